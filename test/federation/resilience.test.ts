import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { collectHealth } from '../../agent/health.js';
import { ApiClient } from '../../cli/api-client.js';
import { ClusterTree } from '../../shared/api.js';
import { deviceTopic } from '../../shared/topics.js';
import { eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { device, enrollCluster, startNode, type Node } from './tree.js';
import { metric } from '../helpers/metrics.js';

const dirs = tempDir();
afterAll(() => dirs.cleanup());

const event = (seq: number) => JSON.stringify({ ts: Date.now(), seq, type: 'tick', data: {} });
const rootEvents = (root: Node, qid: string) => root.coordinator.directory.below.devices.get(qid)?.events.map((e) => e.seq) ?? [];

describe('a parent that goes away and comes back', () => {
  it('the cluster keeps running, events are buffered and forwarded, bridge state goes down then up', async () => {
    const rootDir = join(dirs.path, 'root');
    let root = await startNode('root', undefined, { dataDir: rootDir });
    const rootPort = root.coordinator.mqttPort;
    const site = await startNode('site1', root);
    const bridge = site.coordinator.federation.bridge!;
    await bridge.whenUp();
    const x = await device(site, 'x');
    await x.publishAsync(deviceTopic('x', 'status'), JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
    for (let seq = 0; seq < 20; seq++) await x.publishAsync(deviceTopic('x', 'events'), event(seq), { qos: 1 });
    await eventually(() => rootEvents(root, 'site1/x').length === 20, 5000, 'first 20 events at the root');

    const states: string[] = [];
    bridge.onState((s) => states.push(s));
    await root.coordinator.stop();
    await eventually(() => bridge.state === 'down', 5000, 'bridge down');
    // The cluster keeps working without its parent: events still reach the site coordinator.
    for (let seq = 20; seq < 40; seq++) await x.publishAsync(deviceTopic('x', 'events'), event(seq), { qos: 1 });
    await eventually(() => site.coordinator.directory.live.get('x')?.events.length === 40, 5000, 'site got all events');
    // The spool holds the 20 events, and any message still unacknowledged when the link went.
    await eventually(async () => (await metric(site.api, 'flotilla_bridge_buffered_messages')) >= 20, 5000, 'spooled while down');

    // Restart the parent on the same port from the same data dir (tokens, child credentials survive on disk).
    root = await startNode('root', undefined, { dataDir: rootDir, mqttPort: rootPort });
    await eventually(() => bridge.state === 'up', 15_000, 'bridge up again');
    for (let seq = 40; seq < 50; seq++) await x.publishAsync(deviceTopic('x', 'events'), event(seq), { qos: 1 });
    await eventually(() => rootEvents(root, 'site1/x').length === 30, 5000, 'buffered and new events at the restarted root');
    expect(rootEvents(root, 'site1/x')).toEqual(Array.from({ length: 30 }, (_, i) => 20 + i));
    expect(states).toEqual(['down', 'up']);
    expect(await metric(site.api, 'flotilla_bridge_dropped_total')).toBe(0);
    // The restarted root rebuilt its view from what the child re-published (its retained copies were in memory).
    const tree = await eventually(async () => {
      const t = ClusterTree.parse(await (await fetch(`${root.api}/api/v1/clusters`)).json());
      return t.root.children[0]?.bridge === 'up' && t.root.children[0].own.devices.online === 1 && t;
    }, 5000, 'tree at the restarted root');
    expect(tree.root.children[0].name).toBe('site1');

    await x.endAsync();
    await site.stop();
    await root.stop();
  });
});

/** A free TCP port on 127.0.0.1 (for mosquitto, which cannot report the port it picked). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('a cluster on an external mosquitto broker', () => {
  let broker: ChildProcess | undefined;
  afterAll(() => void broker?.kill('SIGTERM'));

  it('its devices reach the root and root commands reach them', async () => {
    const port = await freePort();
    const conf = join(dirs.path, 'mosquitto.conf');
    // max_queued_messages 0: the Debian default (1000) drops QoS 1 messages under a fast publisher.
    writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'log_type error'].join('\n') + '\n');
    broker = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
    const url = `mqtt://127.0.0.1:${port}`;
    await eventually(async () => mqtt.connectAsync(url, { reconnectPeriod: 0 }).then((c) => c.endAsync().then(() => true), () => false), 10_000, 'mosquitto up');

    const root = await startNode('root');
    const site = await startCoordinator({ cluster: 'mq', broker: { url }, summaryMs: 100, parent: { url: root.mqttUrl, token: await enrollCluster(root.api, 'mq') } });
    await site.coordinator.federation.bridge!.whenUp();
    const { token } = await new ApiClient(site.api).enroll('m1');
    const m1: MqttClient = await mqtt.connectAsync(url, { clientId: 'm1', username: 'm1', password: token, clean: false });
    m1.on('message', (_t, p) => m1.publish(deviceTopic('m1', 'ack'), JSON.stringify({ id: JSON.parse(p.toString()).id, ok: true, ts: Date.now(), result: 'from mosquitto' }), { qos: 1 }));
    await m1.subscribeAsync(deviceTopic('m1', 'cmd'), { qos: 1 });
    await m1.publishAsync(deviceTopic('m1', 'status'), JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
    await m1.publishAsync(deviceTopic('m1', 'events'), event(1), { qos: 1 });
    // Health comes through the coordinator's client on an external broker (in process only on the embedded one).
    const report = await collectHealth({ seq: 7, intervalS: 60, target: 'm1', dataDir: dirs.path, invalidMessages: 0, contributions: [] });
    await m1.publishAsync(deviceTopic('m1', 'health'), JSON.stringify(report), { qos: 0 });
    await eventually(() => site.coordinator.directory.live.get('m1')?.health?.seq === 7, 5000, 'health over mosquitto at the coordinator');
    await eventually(() => rootEvents(root, 'mq/m1').includes(1), 5000, 'event from the mosquitto cluster at the root');
    const res = await fetch(`${root.api}/api/v1/devices/${encodeURIComponent('mq/m1')}/commands`, { method: 'POST', body: JSON.stringify({ command: { type: 'ping' } }) });
    expect(await res.json()).toMatchObject({ ok: true, result: 'from mosquitto' });
    await m1.endAsync();
    await site.stop();
    await root.stop();
  });
});
