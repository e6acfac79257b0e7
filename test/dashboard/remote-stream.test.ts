import { createServer, request } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LiveStream } from '../../coordinator/dashboard/stream.js';
import { DeviceDirectory } from '../../coordinator/fleet/directory.js';
import type { DeviceSummary } from '../../shared/api.js';
import { EMPTY_ROLLUP } from '../../shared/rollup.js';

const sent = (id: string, restartsTotal: number): DeviceSummary => ({
  id, cluster: 'paris', online: true, state: 'ok', lastSeen: 1, arch: 'arm64', platform: 'linux', target: 't', agentVersion: '0.1.0',
  uptimeS: 1, rssBytes: 1, load1: 0, restartsTotal, children: { running: 0, total: 0 }, invalidMessages: 0, stepRefs: [], labels: {},
});

/** A live stream fed by a directory (no registry devices), served on a free port; `text` accumulates what arrived. */
async function streamOf(dir: DeviceDirectory) {
  const stream = new LiveStream({ cluster: 'root', summary: (id) => dir.summary(id), flushMs: 20 });
  const unsubscribe = dir.onChange((c) => stream.change(c));
  const server = createServer((req, res) => stream.open(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const s = { text: '' };
  const req = request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => res.setEncoding('utf8').on('data', (c: string) => (s.text += c)));
  req.end();
  const until = (pred: () => boolean) => new Promise<void>((resolve) => {
    const check = setInterval(() => pred() && (clearInterval(check), resolve()), 5);
  });
  await until(() => s.text.includes('event: hello'));
  const close = () => {
    unsubscribe();
    req.destroy();
    stream.close();
    server.close();
  };
  return { s, until, close };
}

const noRecords = { list: () => [], get: () => undefined, update: () => undefined };

describe('live stream, child-cluster devices', () => {
  it('pushes a remote device when its cluster sends a detail or an event, from the directory feed (nothing polled)', async () => {
    const dir = new DeviceDirectory('root', noRecords);
    const { s, until, close } = await streamOf(dir);
    dir.below.detail(['paris'], sent('p-1', 1));
    await until(() => s.text.includes('"id":"paris/p-1"') && s.text.includes('"restartsTotal":1'));
    const length = s.text.length;
    dir.below.detail(['paris'], sent('p-1', 1)); // the same detail again: no change, nothing to send
    dir.below.detail(['paris'], sent('p-1', 2));
    await until(() => s.text.includes('"restartsTotal":2'));
    expect(s.text.slice(length)).not.toContain('"restartsTotal":1');
    dir.below.event(['paris'], 'p-1', { ts: 1, seq: 7, type: 'child_terminated', data: { reason: 'trap:x' } });
    await until(() => s.text.includes('"restartsTotal":2') && s.text.includes('"seq":7'));
    dir.below.remove(['paris'], 'p-1');
    await until(() => s.text.includes('"removed":["paris/p-1"]'));
    close();
  });
});

describe('live stream, cluster tree', () => {
  it('sends `clusters` once per change of the tree, and nothing while it stays the same', async () => {
    const dir = new DeviceDirectory('root', noRecords);
    const { s, until, close } = await streamOf(dir);
    const count = () => s.text.split('event: clusters').length - 1;
    const summary = (cluster: string) => ({ ts: 1, cluster, coordinatorVersion: '0', own: EMPTY_ROLLUP, subtree: EMPTY_ROLLUP });
    expect(count()).toBe(0);
    dir.below.summary(['paris'], summary('paris'));
    await until(() => count() === 1);
    expect(s.text).toContain('event: clusters\ndata: {"revision":1}');
    // The same tree again changes nothing; a new cluster does: exactly one more `clusters`, revision 2.
    dir.below.summary(['paris'], summary('paris'));
    dir.below.summary(['berlin'], summary('berlin'));
    await until(() => s.text.includes('data: {"revision":2}'));
    expect(count()).toBe(2);
    close();
  });
});
