import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Router } from '../../coordinator/http/router.js';
import { MAX_BODY_BYTES, readBody, startHttpServer } from '../../coordinator/http/server.js';
import { deviceBase, fetchTopic } from '../../shared/module-fetch.js';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, eventually, memoryLogger, startCoordinator } from '../helpers/cluster.js';

/** Issue 11, finding 3 and 9: deep JSON, oversized facts, slow headers and memory-heavy bodies, over real sockets. */
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
beforeAll(async () => {
  cluster = await startCoordinator();
});
afterAll(async () => {
  await cluster?.stop();
});

const post = async (path: string, body: string) => {
  const res = await fetch(`${cluster.api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as { error?: { message: string } } };
};
const invalidCount = async () => ((await (await fetch(`${cluster.api}/api/v1/cluster`)).json()) as { invalidMessages: number }).invalidMessages;
const deepObject = (depth: number, inner = '1') => '{"a":'.repeat(depth) + inner + '}'.repeat(depth);

describe('hostile input at a coordinator', () => {
  it('a supervisor spec nested 5,000 deep is a 400 naming the depth, not a 500', async () => {
    const spec = '{"id":"root","children":[' + '{"id":"s","children":['.repeat(5_000) + ']}'.repeat(5_000) + ']}';
    const res = await post('/api/v1/desired', `{"target":{"device":"d"},"spec":${spec}}`);
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/request body: spec\.children(\.0\.children)*.*: nested deeper than 32 levels/);
  });

  it('a 25 KB nested event is counted invalid, never stored, and an open dashboard stream and the process live on', async () => {
    const { token } = (await post('/api/v1/devices', '{"id":"deep-1"}')).body as unknown as { token: string };
    const stream = await fetch(`${cluster.api}/api/v1/stream`);
    const reader = stream.body!.getReader();
    await reader.read(); // hello
    const device = await connectDevice(cluster.mqttUrl, 'deep-1', token);
    try {
      const before = await invalidCount();
      await device.publishAsync(deviceTopic('deep-1', 'events'), `{"ts":1,"seq":1,"type":"x","data":${deepObject(5_000)}}`, { qos: 1 });
      await device.publishAsync(deviceTopic('deep-1', 'events'), '{"ts":2,"seq":2,"type":"ok","data":{"fine":true}}', { qos: 1 });
      await eventually(() => cluster.coordinator.directory.live.get('deep-1')?.events.some((e) => e.type === 'ok'), 10_000, 'the good event after the bad one');
      expect(cluster.coordinator.directory.live.get('deep-1')!.events.map((e) => e.type)).toEqual(['ok']);
      expect(await invalidCount()).toBe(before + 1);
      expect(cluster.lines.join('\n')).toMatch(/nested deeper than 32 levels/);
      // The stream still delivers (the next change of deep-1 reaches it).
      const decoder = new TextDecoder();
      let seen = '';
      await eventually(async () => {
        const chunk = await reader.read();
        seen += decoder.decode(chunk.value);
        return seen.includes('deep-1');
      }, 10_000, 'a stream message about deep-1');
    } finally {
      await reader.cancel();
      await device.endAsync();
    }
  });

  it('a health report with a 1,000-character agent version is refused and its facts never reach the registry', async () => {
    const { token } = (await post('/api/v1/devices', '{"id":"long-1"}')).body as unknown as { token: string };
    const device = await connectDevice(cluster.mqttUrl, 'long-1', token);
    try {
      const before = await invalidCount();
      const health = { ts: 1, seq: 1, intervalS: 1, agentVersion: 'v'.repeat(1_000), target: 't', arch: 'x', platform: 'p', nodeVersion: 'n', uptimeS: 1, memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: null, invalidMessages: 0 };
      await device.publishAsync(deviceTopic('long-1', 'health'), JSON.stringify(health), { qos: 1 });
      await eventually(async () => (await invalidCount()) === before + 1, 10_000, 'the report counted invalid');
      expect(cluster.coordinator.directory.live.get('long-1')?.health).toBeUndefined();
      expect(JSON.stringify(cluster.coordinator.registry.get('long-1') ?? {})).not.toContain('vvvvvvvvvv');
    } finally {
      await device.endAsync();
    }
  });
});

describe('module fetch requests', () => {
  it('a malformed fetch request is counted in invalidMessages (finding 9)', async () => {
    const { token } = (await post('/api/v1/devices', '{"id":"fetch-1"}')).body as unknown as { token: string };
    const device = await connectDevice(cluster.mqttUrl, 'fetch-1', token);
    try {
      const before = await invalidCount();
      await device.publishAsync(fetchTopic(deviceBase('fetch-1')), '{"sha256":"not a digest"}', { qos: 1 });
      await eventually(async () => (await invalidCount()) === before + 1, 10_000, 'the fetch request counted invalid');
    } finally {
      await device.endAsync();
    }
  });
});

describe('a misbehaving HTTP client slows only itself', () => {
  it('a socket that trickles its headers is closed after the headers timeout', async () => {
    const router = new Router();
    const { server, port } = await startHttpServer({ host: '127.0.0.1', port: 0, router, log: memoryLogger(), onError: () => {}, headersTimeoutMs: 300 });
    try {
      const socket = connect(port, '127.0.0.1');
      const answer: string[] = [];
      socket.on('data', (d) => answer.push(d.toString()));
      socket.write('GET /api/v1/x HTTP/1.1\r\nHost: a\r\n'); // never finishes its headers
      await new Promise<void>((resolve) => socket.on('close', () => resolve()));
      expect(answer.join('')).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      server.close();
    }
  });

  it('large bodies beyond what all requests together may hold get 503 with Retry-After, and the others complete', async () => {
    const router = new Router();
    router.add('POST', '/upload', async ({ req }) => ({ body: { size: (await readBody(req)).length } }));
    const { server, port } = await startHttpServer({ host: '127.0.0.1', port: 0, router, log: memoryLogger(), onError: () => {} });
    const size = MAX_BODY_BYTES - 1024;
    try {
      // Two uploads declare their lengths and hold their bodies back while a third arrives.
      const open = () => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-length': size } });
        const response = new Promise<{ status: number; retryAfter?: string }>((resolve, reject) => {
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
          });
          req.on('error', reject);
        });
        req.flushHeaders();
        return { response, send: () => req.end(Buffer.alloc(size)) };
      };
      const held = [open(), open()];
      const third = await eventually(async () => {
        const r = open();
        r.send();
        const answer = await r.response.catch(() => undefined);
        return answer?.status === 503 && answer;
      }, 10_000, 'the third upload refused');
      expect(third.retryAfter).toBe('1');
      for (const r of held) r.send();
      expect((await Promise.all(held.map((r) => r.response))).map((r) => r.status)).toEqual([200, 200]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
