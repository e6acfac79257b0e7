import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectHealth } from '../../agent/health.js';
import { FanoutResult, DeviceList, ClusterTree } from '../../shared/api.js';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, eventually, jsonBody } from '../helpers/cluster.js';
import { device, enrollCluster, startNode, tempDir, type Node } from './tree.js';
import { metric } from '../helpers/metrics.js';

/** root → eu → {site1, site2}; devices: w@root, z@eu, x,y@site1, x@site2 (same id as in site1). */
let root: Node, eu: Node, site1: Node, site2: Node;
const received = new Map<string, string[]>();
const clients: MqttClient[] = [];
const dirs = tempDir();

/** A raw device that acks every command and records which ones it got. */
async function ackingDevice(node: Node, id: string): Promise<MqttClient> {
  const c = await device(node, id);
  const key = `${node.coordinator.opts.cluster}:${id}`;
  received.set(key, []);
  c.on('message', (_t, payload) => {
    const cmd = JSON.parse(payload.toString());
    received.get(key)!.push(cmd.id);
    c.publish(deviceTopic(id, 'ack'), JSON.stringify({ id: cmd.id, ok: true, ts: Date.now() }), { qos: 1 });
  });
  await c.subscribeAsync(deviceTopic(id, 'cmd'), { qos: 1 });
  const health = await collectHealth({ seq: 0, intervalS: 60, target: 't', dataDir: dirs.path, invalidMessages: 0, contributions: [] });
  await c.publishAsync(deviceTopic(id, 'health'), JSON.stringify(health), { qos: 1 });
  clients.push(c);
  return c;
}

const post = async (api: string, path: string, body: unknown) => {
  const res = await fetch(`${api}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: await jsonBody(res) };
};
const devicesAt = async (n: Node) => DeviceList.parse(await (await fetch(`${n.api}/api/v1/devices`)).json()).devices;

beforeAll(async () => {
  root = await startNode('root');
  eu = await startNode('eu', root);
  site1 = await startNode('site1', eu);
  site2 = await startNode('site2', eu);
  await ackingDevice(root, 'w');
  await ackingDevice(eu, 'z');
  await ackingDevice(site1, 'x');
  await ackingDevice(site1, 'y');
  await ackingDevice(site2, 'x');
  await eventually(async () => (await devicesAt(root)).filter((d) => d.online).length === 5, 10_000, 'all five devices online at the root');
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync()));
  for (const n of [site2, site1, eu, root]) await n?.stop();
  dirs.cleanup();
});

/** Send a fan-out from the root and return who received it (cluster:id), checking the acks agree. */
async function fanout(target: unknown): Promise<string[]> {
  for (const list of received.values()) list.length = 0;
  const { status, body } = await post(root.api, '/api/v1/commands', { target, command: { type: 'ping' }, timeoutMs: 3000 });
  expect(status).toBe(200);
  const result = FanoutResult.parse(body);
  expect(result.unreachable).toEqual([]);
  const got = [...received.entries()].filter(([, l]) => l.length > 0).map(([k]) => k).sort();
  expect(Object.keys(result.acks).length).toBe(got.length);
  return got;
}

describe('three levels: root → eu → site → devices', () => {
  it('the root lists the whole tree with cluster paths; equal ids in two clusters do not collide', async () => {
    const list = await devicesAt(root);
    expect(list.map((d) => [d.id, d.cluster])).toEqual([
      ['eu/site1/x', 'root/eu/site1'],
      ['eu/site1/y', 'root/eu/site1'],
      ['eu/site2/x', 'root/eu/site2'],
      ['eu/z', 'root/eu'],
      ['w', 'root'],
    ]);
    const tree = await eventually(async () => {
      const t = ClusterTree.parse(await (await fetch(`${root.api}/api/v1/clusters`)).json());
      return t.root.subtree.devices.online === 5 && t;
    }, 5000, 'rolled-up counts');
    const euNode = tree.root.children[0];
    expect(euNode).toMatchObject({ name: 'eu', bridge: 'up', own: { devices: { total: 1 } }, subtree: { devices: { total: 4 } } });
    expect(euNode.children.map((c) => c.path)).toEqual(['root/eu/site1', 'root/eu/site2']);
  });

  it('an event from a site device reaches the root; detail comes on request', async () => {
    const c = clients[2];
    await c.publishAsync(deviceTopic('x', 'events'), JSON.stringify({ ts: Date.now(), seq: 7, type: 'hello', data: { n: 1 } }), { qos: 1 });
    await eventually(() => root.coordinator.directory.below.devices.get('eu/site1/x')?.events.some((e) => e.seq === 7), 5000, 'event at root');
    const detail = await jsonBody(fetch(`${root.api}/api/v1/devices/${encodeURIComponent('eu/site1/x')}`));
    expect(detail).toMatchObject({ id: 'eu/site1/x', cluster: 'root/eu/site1', health: { intervalS: 60 } });
    expect(detail.events.some((e: { seq: number }) => e.seq === 7)).toBe(true);
  });

  it('a command reaches exactly the addressed device', async () => {
    for (const list of received.values()) list.length = 0;
    const res = await post(root.api, `/api/v1/devices/${encodeURIComponent('eu/site2/x')}/commands`, { command: { type: 'ping' } });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(received.get('site2:x')).toHaveLength(1);
    expect(received.get('site1:x')).toHaveLength(0);
    expect(await fanout({ device: 'eu/site1/y' })).toEqual(['site1:y']);
    const missing = await post(root.api, `/api/v1/devices/${encodeURIComponent('eu/site1/nobody')}/commands`, { command: { type: 'ping' } });
    expect(missing.status).toBe(404);
  });

  it('a command to a cluster reaches its own devices only; to a subtree, everything below; to all, everyone', async () => {
    expect(await fanout({ cluster: 'root/eu/site1' })).toEqual(['site1:x', 'site1:y']);
    expect(await fanout({ cluster: 'root/eu' })).toEqual(['eu:z']);
    expect(await fanout({ subtree: 'root/eu' })).toEqual(['eu:z', 'site1:x', 'site1:y', 'site2:x']);
    expect(await fanout({ subtree: 'root/eu/site2' })).toEqual(['site2:x']);
    expect(await fanout({ all: true })).toEqual(['eu:z', 'root:w', 'site1:x', 'site1:y', 'site2:x']);
  });
});

describe('a child coordinator is confined to its subtree', () => {
  it('cannot publish into a sibling\'s subtree nor read what is addressed to it', async () => {
    const token = await enrollCluster(eu.api, 'rogue');
    const rogue = await connectDevice(eu.mqttUrl, 'child:rogue', token, { username: 'child:rogue' });
    await expect(rogue.subscribeAsync('flotilla/down/site1/#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const denied = await metric(eu.api, 'flotilla_denied_requests_total', { action: 'publish' });
    // QoS 0: aedes closes a client whose QoS 1 publish is refused.
    rogue.publish('flotilla/up/site1/d/x/detail', JSON.stringify({ forged: true }), { qos: 0 });
    await eventually(async () => (await metric(eu.api, 'flotilla_denied_requests_total', { action: 'publish' })) > denied, 5000, 'the refusal');
    expect((await devicesAt(root)).find((d) => d.id === 'eu/site1/x')?.online).toBe(true);
    await rogue.endAsync();
  });

  it('a malformed message from a child is rejected, counted, and not forwarded further up', async () => {
    const token = await enrollCluster(eu.api, 'sloppy');
    const sloppy = await connectDevice(eu.mqttUrl, 'child:sloppy', token, { username: 'child:sloppy' });
    const invalidAt = (node: { api: string }) => metric(node.api, 'flotilla_invalid_messages_total', { source: 'uplink' });
    const rejectedAt = (node: { api: string }) => metric(node.api, 'flotilla_bridge_rejected_total');
    const [invalid, rejected] = [await invalidAt(eu), await rejectedAt(eu)];
    await sloppy.publishAsync('flotilla/up/sloppy/summary', '{"ts":"never"}', { qos: 1 });
    await sloppy.publishAsync('flotilla/up/sloppy/d/q/detail', 'not json', { qos: 1 });
    await eventually(async () => (await invalidAt(eu)) === invalid + 2, 5000, 'both counted');
    await eventually(async () => (await rejectedAt(eu)) === rejected + 2, 5000, 'neither forwarded');
    expect(await invalidAt(root)).toBe(0);
    expect(root.coordinator.directory.below.devices.has('eu/sloppy/q')).toBe(false);
    await sloppy.endAsync();
  });
});
