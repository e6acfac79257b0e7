import { createServer, request } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LiveStream, type RemoteDeviceView } from '../../coordinator/dashboard/stream.js';
import type { EventMessage } from '../../shared/messages.js';

describe('live stream, child-cluster devices', () => {
  it('pushes a remote device when the subtree view replaces its detail or appends events, and not otherwise', async () => {
    const remote = new Map<string, RemoteDeviceView>([['paris/p-1', { detail: { v: 1 }, events: [] }]]);
    const stream = new LiveStream({ cluster: 'root', summary: (id) => ({ id, version: (remote.get(id)!.detail as { v: number }).v }) as never, remote: () => remote.entries(), flushMs: 20 });
    const server = createServer((req, res) => stream.open(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const frames: string[] = [];
    const got = (pred: (f: string[]) => boolean) =>
      new Promise<void>((resolve) => {
        const check = setInterval(() => pred(frames) && (clearInterval(check), resolve()), 5);
      });
    const req = request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => res.setEncoding('utf8').on('data', (c: string) => frames.push(c)));
    req.end();
    await got((f) => f.join('').includes('event: hello'));
    // First sight of a device counts as a change (it may be new since the page's snapshot).
    await got((f) => f.join('').includes('"version":1'));
    const seen = frames.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(frames.length).toBe(seen); // unchanged objects: nothing sent
    const event: EventMessage = { ts: 1, seq: 7, type: 'child_terminated', data: { reason: 'trap:x' } };
    remote.set('paris/p-1', { detail: { v: 2 }, events: [event] });
    await got((f) => f.join('').includes('"version":2') && f.join('').includes('"seq":7'));
    req.destroy();
    stream.close();
    server.close();
  });
});

describe('live stream, cluster tree', () => {
  it('sends `clusters` once per change of the tree key, and nothing while it stays the same', async () => {
    let key = 'r1';
    const stream = new LiveStream({ cluster: 'root', summary: () => undefined, clustersKey: () => key, flushMs: 20 });
    const server = createServer((req, res) => stream.open(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    let text = '';
    const count = () => text.split('event: clusters').length - 1;
    const req = request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => res.setEncoding('utf8').on('data', (c: string) => (text += c)));
    req.end();
    const until = (pred: () => boolean) => new Promise<void>((resolve) => {
      const check = setInterval(() => pred() && (clearInterval(check), resolve()), 5);
    });
    await until(() => text.includes('event: hello'));
    await new Promise((r) => setTimeout(r, 100));
    expect(count()).toBe(0);
    key = 'r2';
    await until(() => count() === 1);
    expect(text).toContain('event: clusters\ndata: {"revision":1}');
    await new Promise((r) => setTimeout(r, 100));
    expect(count()).toBe(1);
    req.destroy();
    stream.close();
    server.close();
  });
});
