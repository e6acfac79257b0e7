import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { CoordinatorProcess, Driver, Tally, killTimes } from './harness.js';

// SIGKILL at random points during numbered QoS 1 streams: nothing acknowledged may be lost (docs/protocol.md,
// "Delivery guarantees"). Duplicates are allowed (at least once) and reported.
const COUNT = 500;
const RATE = 100; // messages per second: the stream lasts 5 s
const KILLS = 3;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sinkOn(url: string, tally: Tally) {
  const sink = await mqtt.connectAsync(url, { clientId: 'sink', username: 'sink', password: 'tok-sink-0123456789', clean: false, reconnectPeriod: 200, reconnectOnConnackError: true });
  cleanups.push(() => sink.endAsync(true));
  sink.on('message', (_t, payload) => tally.add(JSON.parse(payload.toString()).n));
  await sink.subscribeAsync('flotilla/d/drv/out/#', { qos: 1 });
  return sink;
}

/** Runs `kill` at random points while the stream is published, then waits for every number to arrive. */
async function underFire(driver: () => Driver, kill: () => Promise<void>, tally: Tally): Promise<void> {
  const start = Date.now();
  for (const at of killTimes(KILLS, 300, (COUNT / RATE) * 1000)) {
    await new Promise((r) => setTimeout(r, Math.max(0, start + at - Date.now())));
    await kill();
  }
  await eventually(() => driver().allPublished, 60_000, 'the whole stream published');
  await eventually(() => tally.complete(COUNT), 60_000, `all ${COUNT} numbers`).catch(() => undefined);
}

describe('SIGKILL mid-stream loses nothing acknowledged', () => {
  it('agent killed: its spool survives and is replayed', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const cluster = await startCoordinator({ tokens: { drv: 'tok-drv-0123456789', sink: 'tok-sink-0123456789' } });
    cleanups.push(() => cluster.stop());
    const tally = new Tally();
    await sinkOn(cluster.mqttUrl, tally);
    const argv = [cluster.mqttUrl, 'drv', 'tok-drv-0123456789', join(dir.path, 'agent'), join(dir.path, 'counter'), String(COUNT), String(RATE), 'out'];
    let driver = new Driver(argv);
    cleanups.push(() => driver.stop());
    await driver.start();
    await underFire(() => driver, async () => {
      await driver.kill();
      driver = new Driver(argv);
      await driver.start();
    }, tally);
    const { lost, line } = tally.summary('agent', COUNT, KILLS);
    console.log(line);
    expect(lost).toBe(0);
  });

  /** A numbered stream from a device of `coordinator` to a persistent subscriber there, through KILLS SIGKILLs of it. */
  async function streamThroughKills(label: string, dir: string, coordinator: CoordinatorProcess): Promise<void> {
    cleanups.push(() => coordinator.stop());
    await coordinator.start();
    const tally = new Tally();
    await sinkOn(coordinator.url, tally);
    const driver = new Driver([coordinator.url, 'drv', 'tok-drv-0123456789', join(dir, 'agent'), join(dir, 'counter'), String(COUNT), String(RATE), 'out']);
    cleanups.push(() => driver.stop());
    await driver.start();
    await underFire(() => driver, async () => {
      await coordinator.kill();
      await coordinator.start();
    }, tally);
    const { lost, line } = tally.summary(label, COUNT, KILLS);
    console.log(line);
    expect(lost).toBe(0);
  }

  // These two lost a contiguous block (75-160 messages) in some runs until the spool got its own message-id
  // provider (shared/spool.ts, Spool.messageIds): the publisher's mqtt.js gave a new message the id of a spooled one
  // not replayed yet, and the spool's put replaced it.
  it('cluster coordinator killed: its broker keeps sessions and queued messages; a persistent subscriber gets everything', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const root = await startCoordinator({ cluster: 'root', childTokens: { site: 'tok-site-0123456789' } });
    cleanups.push(() => root.stop());
    const site = await CoordinatorProcess.create(join(dir.path, 'site'), { drv: 'tok-drv-0123456789', sink: 'tok-sink-0123456789' }, ['--cluster', 'site', '--parent', root.mqttUrl, '--token', 'tok-site-0123456789']);
    await streamThroughKills('cluster coordinator', dir.path, site);
  });

  it('root killed: what it acknowledged is delivered to its persistent subscribers after the restart', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const root = await CoordinatorProcess.create(join(dir.path, 'root'), { drv: 'tok-drv-0123456789', sink: 'tok-sink-0123456789' }, ['--cluster', 'root']);
    await streamThroughKills('root', dir.path, root);
  });

  it('cluster coordinator killed: every event its devices sent reaches the parent', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const root = await startCoordinator({ cluster: 'root', childTokens: { site: 'tok-site-0123456789' } });
    cleanups.push(() => root.stop());
    const tally = new Tally();
    // The parent's view of the device below: an event is filed (remote_event) only under a device it knows.
    cleanups.push(root.coordinator.directory.onChange((c) => c.kind === 'remote_event' && c.id === 'site/drv' && tally.add((c.event.data as { n: number }).n)));
    const site = await CoordinatorProcess.create(join(dir.path, 'site'), { drv: 'tok-drv-0123456789' }, ['--cluster', 'site', '--parent', root.mqttUrl, '--token', 'tok-site-0123456789']);
    cleanups.push(() => site.stop());
    await site.start();
    const driver = new Driver([site.url, 'drv', 'tok-drv-0123456789', join(dir.path, 'agent'), join(dir.path, 'counter'), String(COUNT), String(RATE), 'events']);
    cleanups.push(() => driver.stop());
    await driver.start();
    await underFire(() => driver, async () => {
      await site.kill();
      await site.start();
    }, tally);
    const { lost, line } = tally.summary('events up from a killed cluster coordinator', COUNT, KILLS);
    console.log(line);
    expect(lost).toBe(0);
  });
});
