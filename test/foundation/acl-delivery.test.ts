import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../coordinator/broker/acl.js';
import { startEmbeddedBroker, type RunningBroker } from '../../coordinator/broker/embedded-broker.js';
import { eventually, memoryLogger, tempDir } from '../helpers/cluster.js';

// The ACL judged by delivery: the real embedded broker (aedes with Flotilla's ACL) on a real socket, a watcher with
// the coordinator's full read access subscribed to everything, and clients forging publishes as devices and as a
// child coordinator. Each forgery is followed by a legitimate marker on the same connection: MQTT keeps one
// connection's messages in order, so once the marker has arrived a delivered forgery would have arrived first.

const principals = new Map<string, Principal>([
  ['watcher', { kind: 'internal' }],
  ['dev-a', { kind: 'device', id: 'dev-a' }],
  ['dev-b', { kind: 'device', id: 'dev-b' }],
  ['dev-c', { kind: 'device', id: 'dev-c' }],
  ['child:paris', { kind: 'child', name: 'paris' }],
]);
let broker: RunningBroker;
const dir = tempDir();
let watcher: MqttClient;
const seen: string[] = [];
const denied: string[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir.path,
    authenticate: (clientId) => principals.get(clientId),
    onDenied: (action, subject) => denied.push(`${action} ${subject}`),
    log: memoryLogger(),
  });
  broker.acceptClients();
  watcher = await connect('watcher');
  watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload}`));
  await watcher.subscribeAsync('#', { qos: 1 });
});
afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  await broker.close();
  dir.cleanup();
});

function connect(id: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: id, username: id, reconnectPeriod: 0, ...extra }).then((c) => (clients.push(c), c));
}

/** A topic each principal may publish: its marker travels the same connection, right behind the forgery. */
const ownTopic = (id: string) => (id.startsWith('child:') ? `flotilla/up/${id.slice(6)}/alive` : `flotilla/d/${id}/events`);
let markers = 0;

/**
 * Each forgery on its own connection, followed on that connection by a marker on a topic the principal may use. The
 * broker acknowledges and drops a refused PUBLISH (docs/protocol.md) and keeps one connection's messages in order,
 * so once the watcher has the marker, a delivered forgery would have reached it first.
 */
async function forgeThenMark(id: string, forged: string[]): Promise<void> {
  for (const topic of forged) {
    const client = await connect(id);
    const marker = `marker-${++markers}`;
    await client.publishAsync(topic, 'forged', { qos: 1 });
    await client.publishAsync(ownTopic(id), marker, { qos: 1 });
    await eventually(() => seen.includes(`${ownTopic(id)} ${marker}`), 10_000, `the marker after ${topic}`);
    await client.endAsync();
  }
}

describe('forged publishes are never delivered', () => {
  it('the legitimate counterparts are delivered (the watcher sees what is allowed)', async () => {
    const a = await connect('dev-a');
    const paris = await connect('child:paris');
    await a.publishAsync('flotilla/d/dev-a/status', 'own', { qos: 1 });
    await paris.publishAsync('flotilla/up/paris/d/x/detail', 'own', { qos: 1 });
    await eventually(() => seen.includes('flotilla/d/dev-a/status own') && seen.includes('flotilla/up/paris/d/x/detail own'), 10_000, 'both');
    await a.endAsync();
    await paris.endAsync();
  });

  it("a device cannot publish as another device, nor as the coordinator or a child coordinator", async () => {
    const forged = [
      'flotilla/d/dev-b/status',
      'flotilla/d/dev-b/health',
      'flotilla/d/dev-b/out/temp',
      'flotilla/d/dev-b/ack',
      'flotilla/d/dev-a/cmd',
      'flotilla/d/dev-a/desired',
      'flotilla/up/paris/d/dev-b/detail',
      'flotilla/down/paris/cmd',
      '$SYS/broker/forged',
    ];
    await forgeThenMark('dev-a', forged);
    expect(seen.filter((l) => l.endsWith(' forged'))).toEqual([]);
    for (const topic of forged) expect(denied).toContain(`publish ${topic}`);
  });

  it("a child coordinator cannot forge uplink for a sibling, device topics, or downlink", async () => {
    const forged = ['flotilla/up/berlin/d/x/detail', 'flotilla/up/berlin/summary', 'flotilla/d/dev-b/status', 'flotilla/down/paris/cmd', 'flotilla/link/berlin/fetch', 'sensors/room/raw'];
    await forgeThenMark('child:paris', forged);
    expect(seen.filter((l) => l.endsWith(' forged'))).toEqual([]);
    for (const topic of forged) expect(denied).toContain(`publish ${topic}`);
  });

  it("a last will aimed at another device's status is refused when it fires; a device's own will is delivered", async () => {
    const offline = JSON.stringify({ online: false, ts: 0 });
    // dev-a's will claims dev-b went offline; dev-c's will is its own. Both connections die without DISCONNECT.
    const liar = await connect('dev-a', { will: { topic: 'flotilla/d/dev-b/status', payload: Buffer.from(offline), qos: 1, retain: true } });
    const honest = await connect('dev-c', { will: { topic: 'flotilla/d/dev-c/status', payload: Buffer.from(offline), qos: 1, retain: true } });
    const refusals = () => denied.filter((d) => d === 'publish flotilla/d/dev-b/status').length;
    const before = refusals();
    liar.stream.destroy();
    await eventually(() => refusals() > before, 10_000, "the refusal of dev-a's will");
    honest.stream.destroy();
    await eventually(() => seen.includes(`flotilla/d/dev-c/status ${offline}`), 10_000, "dev-c's will");
    expect(seen.filter((l) => l.startsWith('flotilla/d/dev-b/status'))).toEqual([]);
  });
});
