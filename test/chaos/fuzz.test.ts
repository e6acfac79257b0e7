import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchTopic } from '../../shared/module-fetch.js';
import { upTopic } from '../../shared/fleet-topics.js';
import { deviceTopic, type DeviceTopicKind } from '../../shared/topics.js';
import { connectDevice, eventually, startCoordinator } from '../helpers/cluster.js';

/**
 * Issue 11: generated malformed payloads on every topic a coordinator consumes and every route it serves. The process
 * must live, answer every request with a status below 500, and count every refused MQTT payload.
 */
const TOKEN = 'fuzz-api-token';
const RUNS = 400;
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
const totals = { payloads: 0, requests: 0, serverErrors: 0 };

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: TOKEN });
});
afterAll(async () => {
  console.log(`fuzz: ${totals.payloads} MQTT payloads and ${totals.requests} HTTP requests tried, ${totals.serverErrors} answered 5xx, coordinator alive: ${await alive()}`);
  await cluster?.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };
const api = (path: string, init: RequestInit = {}) => fetch(`${cluster.api}${path}`, { ...init, headers: { ...auth, ...(init.headers ?? {}) } });
/** A publish that is not acknowledged within this long is a stall the fuzz found (the payload is named). */
const STALL_MS = 5_000;
async function publishOrStall(client: mqtt.MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no PUBACK within ${STALL_MS} ms for ${topic}: ${String(payload).slice(0, 200)}`)), STALL_MS);
  });
  try {
    await Promise.race([client.publishAsync(topic, payload, { qos: 1 }), stalled]);
  } finally {
    clearTimeout(timer);
  }
}
const alive = async () => (await api('/api/v1/cluster').catch(() => undefined))?.status === 200;
const invalid = async () => ((await (await api('/api/v1/cluster')).json()) as { invalidMessages: number }).invalidMessages;

/** JSON values, near-valid messages with one field replaced, raw bytes, and deep or long strings. */
const validHealth = { ts: 1, seq: 1, intervalS: 1, agentVersion: 'v', target: 't', arch: 'x', platform: 'p', nodeVersion: 'n', uptimeS: 1, memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: null, invalidMessages: 0 };
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  fc.record({ key: fc.constantFrom(...Object.keys(validHealth), '__proto__', 'constructor'), value: fc.jsonValue({ maxDepth: 3 }) }).map(({ key, value }) => JSON.stringify({ ...validHealth, [key]: value })),
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
  fc.integer({ min: 33, max: 3000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
  fc.string({ maxLength: 64 }).map((s) => `{"ts":1,"seq":1,"type":${JSON.stringify(s)},"data":{"__proto__":{"x":1}}}`),
);
/** Payloads none of the consumed schemas accepts: what the invalid counter must count, one each. */
const neverValid = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 256 }).filter((b) => b[0] !== 0x7b && b[0] !== 0x5b).map((b) => Buffer.concat([Buffer.from('\u0000'), Buffer.from(b)])),
  fc.integer({ min: 33, max: 3000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
);

describe('fuzz: malformed input on every consumed topic and route', () => {
  it('device topics: every payload refused by its schema is counted, and the coordinator lives', async () => {
    const enrolled = (await (await api('/api/v1/devices', { method: 'POST', body: JSON.stringify({ id: 'fz-1' }) })).json()) as { token: string };
    const device = await connectDevice(cluster.mqttUrl, 'fz-1', enrolled.token);
    const kinds: DeviceTopicKind[] = ['status', 'health', 'events', 'logs', 'ack'];
    try {
      for (const kind of kinds) {
        await fc.assert(
          fc.asyncProperty(hostile, async (payload) => {
            totals.payloads++;
            await publishOrStall(device, deviceTopic('fz-1', kind), payload);
          }),
          { numRuns: RUNS, endOnFailure: true },
        );
      }
      await device.publishAsync(fetchTopic('flotilla/d/fz-1'), 'not a fetch request', { qos: 1 }).catch(() => undefined);
      // Exactly counted: payloads that cannot be JSON objects at all.
      const before = await invalid();
      const sent = fc.sample(neverValid, 50);
      for (const payload of sent) await device.publishAsync(deviceTopic('fz-1', 'health'), payload, { qos: 1 });
      totals.payloads += sent.length;
      await eventually(async () => (await invalid()) >= before + sent.length, 20_000, `${sent.length} more invalid messages counted`);
      expect(await alive()).toBe(true);
      expect(Object.prototype).not.toHaveProperty('x');
    } finally {
      await device.endAsync();
    }
  });

  it('a child coordinator\'s uplink: malformed summaries, details and replies never crash the parent', async () => {
    const { token } = (await (await api('/api/v1/clusters', { method: 'POST', body: JSON.stringify({ name: 'fzc' }) })).json()) as { token: string };
    const child = await mqtt.connectAsync(cluster.mqttUrl, { clientId: 'child:fzc', username: 'child:fzc', password: token, reconnectPeriod: 0 });
    try {
      const kinds = [['summary'], ['alive'], ['bridge', 'state'], ['reply'], ['d', 'x', 'detail'], ['d', 'x', 'events']];
      for (const kind of kinds) {
        await fc.assert(
          fc.asyncProperty(hostile, async (payload) => {
            totals.payloads++;
            await publishOrStall(child, upTopic(['fzc'], ...kind), payload);
          }),
          { numRuns: Math.floor(RUNS / 3), endOnFailure: true },
        );
      }
      expect(await alive()).toBe(true);
      expect((await api('/api/v1/clusters')).status).toBe(200);
      expect((await api('/api/v1/devices')).status).toBe(200);
    } finally {
      await child.endAsync();
    }
  });

  it('HTTP routes: arbitrary bodies and ids get 4xx, never 5xx', async () => {
    const routes: Array<[string, (id: string) => string]> = [
      ['POST', () => '/api/v1/devices'],
      ['POST', () => '/api/v1/desired'],
      ['POST', () => '/api/v1/steps'],
      ['POST', () => '/api/v1/commands'],
      ['POST', () => '/api/v1/clusters'],
      ['POST', (id) => `/api/v1/devices/${encodeURIComponent(id)}/commands`],
      ['PATCH', (id) => `/api/v1/devices/${encodeURIComponent(id)}`],
      ['GET', (id) => `/api/v1/devices/${encodeURIComponent(id)}`],
      ['GET', (id) => `/api/v1/devices/${encodeURIComponent(id)}/desired`],
      ['GET', (id) => `/api/v1/devices/${encodeURIComponent(id)}/history`],
      ['DELETE', (id) => `/api/v1/devices/${encodeURIComponent(id)}`],
      ['GET', (id) => `/api/v1/devices/${encodeURIComponent(id)}/logs`],
      ['POST', () => '/api/v1/rollouts'],
      ['GET', (id) => `/api/v1/rollouts/${encodeURIComponent(id)}`],
      ['POST', (id) => `/api/v1/rollouts/${encodeURIComponent(id)}/pause`],
      ['POST', () => '/api/v1/keys/revocations'],
      ['PUT', (id) => `/api/v1/agent-releases/${encodeURIComponent(id)}/${encodeURIComponent(id)}`],
      ['GET', (id) => `/agent-artifacts/${encodeURIComponent(id)}`],
    ];
    const id = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a/b', '..', ''), fc.string({ maxLength: 80 }));
    for (const [method, path] of routes) {
      await fc.assert(
        fc.asyncProperty(id, hostile, async (deviceId, body) => {
          totals.requests++;
          const res = await api(path(deviceId), { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body }) });
          await res.arrayBuffer();
          if (res.status >= 500) totals.serverErrors++;
          expect(res.status, `${method} ${path(deviceId)}`).toBeLessThan(500);
        }),
        { numRuns: Math.floor(RUNS / 3), endOnFailure: true },
      );
    }
    expect(await alive()).toBe(true);
  });
});
