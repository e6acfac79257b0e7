import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { encode, type HealthMessage } from '../../shared/messages.js';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, startCoordinator } from '../helpers/cluster.js';

const TOKEN = 'server-test-token';
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: TOKEN });
});
afterAll(() => cluster.stop());

function health(seq: number): HealthMessage {
  return {
    ts: Date.now(), seq, intervalS: 1, agentVersion: '0.1.0', target: 't', arch: 'arm64', platform: 'linux', nodeVersion: '18',
    uptimeS: seq, memory: { rss: 1000 * seq, heapUsed: 10, heapTotal: 20 }, load: [0.25, 0, 0], diskFreeBytes: null, invalidMessages: 0,
    children: [], steps: [{ ref: 'filter@1', sha256: 'b'.repeat(64), size: 9 }], rates: { in: 3, out: 1 }, restartsTotal: 0,
  };
}

/** Open the SSE stream and collect parsed messages until `until` says stop; `onHello` runs once the stream is open. */
function readStream(path: string, until: (messages: { event: string; data: any }[]) => boolean, onHello?: () => void): Promise<{ status: number; type: string | undefined; messages: { event: string; data: any }[] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${cluster.api}${path}`, (res) => {
      const messages: { event: string; data: any }[] = [];
      let buffer = '';
      const done = () => (req.destroy(), resolve({ status: res.statusCode!, type: res.headers['content-type'], messages }));
      if (res.statusCode !== 200) return res.resume(), done();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data) messages.push({ event, data: JSON.parse(data) });
          if (event === 'hello') onHello?.();
        }
        if (until(messages)) done();
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard assets', () => {
  it('serves index.html with no-cache and an ETag, and hashed assets as immutable, gzipped when asked', async () => {
    const index = await fetch(`${cluster.api}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const etag = index.headers.get('etag')!;
    expect((await fetch(`${cluster.api}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const script = /src="(assets\/main-[A-Z0-9]+\.js)"/.exec(html)![1];
    const style = /href="(assets\/main-[A-Z0-9]+\.css)"/.exec(html)![1];
    const js = await fetch(`${cluster.api}/${script}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const css = await fetch(`${cluster.api}/${style}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');

    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) =>
      request(`${cluster.api}/${script}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c)).on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end(),
    );
    expect(raw.encoding).toBe('gzip');
    expect(gunzipSync(raw.body).toString()).toBe(await (await fetch(`${cluster.api}/${script}`, { headers: { 'accept-encoding': 'identity' } })).text());
    // The page is public (it holds no data); only the API asks for the token. Unknown assets are 404s.
    expect((await fetch(`${cluster.api}/assets/main-NOPE.js`)).status).toBe(404);
  });
});

describe('live stream and history', () => {
  let device: MqttClient;
  beforeAll(async () => {
    const res = await fetch(`${cluster.api}/api/v1/devices`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'sse-1' }) });
    device = await connectDevice(cluster.mqttUrl, 'sse-1', ((await res.json()) as { token: string }).token);
  });
  afterAll(() => device.endAsync());

  it('needs the token, as a header or ?token=', async () => {
    expect((await readStream('/api/v1/stream', () => true)).status).toBe(401);
    expect((await readStream('/api/v1/stream?token=wrong-token-x', () => true)).status).toBe(401);
  });

  it('says hello, then pushes device summaries (the last one carrying the latest report) and events', async () => {
    const publish = async () => {
      for (let seq = 1; seq <= 3; seq++) await device.publishAsync(deviceTopic('sse-1', 'health'), encode(health(seq)), { qos: 1 });
      await device.publishAsync(deviceTopic('sse-1', 'events'), encode({ ts: Date.now(), seq: 1, type: 'child_started', data: { supervisor: 'root', child: 'a' } }), { qos: 1 });
    };
    const { status, type, messages } = await readStream(
      `/api/v1/stream?token=${TOKEN}`,
      (m) => m.some((x) => x.event === 'devices' && x.data.devices.at(-1).rssBytes === 3000) && m.some((x) => x.event === 'events'),
      () => void publish(),
    );
    expect(status).toBe(200);
    expect(type).toBe('text/event-stream; charset=utf-8');
    expect(messages[0]).toMatchObject({ event: 'hello', data: { cluster: 'test', heartbeatMs: 5000 } });
    const updates = messages.filter((m) => m.event === 'devices').flatMap((m) => m.data.devices);
    // However the three reports fall into flush windows (250 ms coalescing), none is sent twice and the last wins.
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(3);
    expect(updates.at(-1)).toMatchObject({ id: 'sse-1', online: true, state: 'ok', rssBytes: 3000, stepRefs: ['filter@1'] });
    expect(messages.find((m) => m.event === 'events')!.data.events[0]).toMatchObject({ id: 'sse-1', event: { type: 'child_started' } });
  });

  it('keeps the health history in memory, oldest first', async () => {
    expect((await fetch(`${cluster.api}/api/v1/devices/sse-1/history`)).status).toBe(401);
    const res = await fetch(`${cluster.api}/api/v1/devices/sse-1/history`, { headers: auth });
    const body = (await res.json()) as { ts: number[]; rssBytes: number[]; load1: number[]; intervalS: number; capacity: number };
    expect(body).toMatchObject({ id: 'sse-1', intervalS: 1, capacity: 300 + 55, rssBytes: [1000, 2000, 3000], load1: [0.25, 0.25, 0.25] });
    expect(body.ts).toEqual([...body.ts].sort());
    expect((await fetch(`${cluster.api}/api/v1/devices/nobody/history`, { headers: auth })).status).toBe(404);
  });
});
