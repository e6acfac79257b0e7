import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Bridge, openUplinkSpool } from '../../coordinator/federation/bridge.js';
import { CoordinatorMetrics } from '../../coordinator/metrics/index.js';
import { serveBroker } from '../helpers/broker.js';
import { eventually, memoryLogger, tempDir } from '../helpers/cluster.js';

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe('a bridge whose uplink spool cannot write', () => {
  // Seen in test/hardening/full-disk.test.ts on a child's full data dir: after a failed spool write the bridge
  // forwarded nothing more either way, did not come back after the parent's restart, and its stop hung.
  it('still forwards both ways and stops, the failure counted', async () => {
    const local = await serveBroker();
    const parent = await serveBroker();
    stops.push(local.close, parent.close);
    const dir = tempDir();
    stops.push(async () => dir.cleanup());

    const up: string[] = [];
    const watcher = await mqtt.connectAsync(parent.url, { clientId: 'watcher' });
    stops.push(() => watcher.endAsync());
    watcher.on('message', (_t, payload) => up.push(payload.toString()));
    await watcher.subscribeAsync('flotilla/up/c1/#', { qos: 1 });
    const down: string[] = [];
    const device = await mqtt.connectAsync(local.url, { clientId: 'device' });
    stops.push(() => device.endAsync());
    device.on('message', (_t, payload) => down.push(payload.toString()));
    await device.subscribeAsync('flotilla/down/#', { qos: 1 });

    let failures = 0;
    const spool = await openUplinkSpool(dir.path, { messages: 100 }, memoryLogger(), () => failures++);
    // The spool's log is opened at its first write: with the dir gone that fails, as on a full disk.
    rmSync(dir.path, { recursive: true, force: true });
    const bridge = new Bridge({
      local: { url: local.url, clientId: 'bridge-local' },
      remote: { url: parent.url, clientId: 'bridge-remote' },
      mappings: [
        { pattern: '#', direction: 'out', qos: 1, localPrefix: 'flotilla/up/', remotePrefix: 'flotilla/up/c1/' },
        { pattern: '#', direction: 'in', qos: 1, localPrefix: 'flotilla/down/', remotePrefix: 'flotilla/down/c1/' },
      ],
      stateTopic: 'flotilla/up/c1/bridge/state',
      spool,
      metrics: new CoordinatorMetrics(),
      log: memoryLogger(),
    });
    bridge.start();
    let closed = false;
    stops.push(async () => void (closed || (await bridge.close())));
    await bridge.whenUp();

    await device.publishAsync('flotilla/up/d/x/event', 'first', { qos: 1 });
    await eventually(() => up.includes('first'), 5000, 'the first message at the parent');
    const parentSide = await mqtt.connectAsync(parent.url, { clientId: 'parent-side' });
    stops.push(() => parentSide.endAsync());
    await parentSide.publishAsync('flotilla/down/c1/d/x/revoked', 'list', { qos: 1 });
    await eventually(() => down.includes('list'), 5000, 'the message from the parent at the device');
    await device.publishAsync('flotilla/up/d/x/event', 'second', { qos: 1 });
    await eventually(() => up.includes('second'), 5000, 'the second message at the parent');
    expect(failures).toBeGreaterThanOrEqual(2);

    const stopped = bridge.close().then(() => (closed = true));
    await eventually(() => closed, 5000, 'the bridge stopped');
    await stopped;
  });
});
