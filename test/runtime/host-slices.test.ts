import { describe, expect, it } from 'vitest';
import { hostMain, type HostSlices } from '../../agent/runtime/host-main.js';
import { CONTROL_SLOTS, type FromHost, type ToHost } from '../../agent/runtime/protocol.js';
import { bytes, wat } from './harness.js';

/** hostMain over an in-process port, as thread-host.ts runs it, with slices that are always over. */
function slicedHost() {
  const sent: FromHost[] = [];
  const resumed: Extract<ToHost, { t: 'batch' }>[] = [];
  let handle!: (msg: ToHost) => void;
  const port = { postMessage: (msg: FromHost) => sent.push(msg), on: (_e: 'message', fn: (msg: ToHost) => void) => (handle = fn) };
  const slices: HostSlices = { due: () => true, resume: (msg) => resumed.push(msg) };
  hostMain(port as never, new Int32Array(CONTROL_SLOTS), (() => undefined) as never, 0, slices);
  return { sent, resumed, post: (msg: ToHost) => handle(msg) };
}

function batchOf(texts: string[]): Extract<ToHost, { t: 'batch' }> {
  const parts = texts.map(bytes);
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (data.set(p, at), (at += p.length));
  return { t: 'batch', i: 1, count: parts.length, lens: Uint32Array.from(parts, (p) => p.length).buffer, data: data.buffer };
}

describe('host slices', () => {
  it('a slice over before its first message still runs one: a cut batch always makes progress', () => {
    const host = slicedHost();
    host.post({ t: 'instantiate', i: 1, module: new WebAssembly.Module(wat('echo')), config: new Uint8Array(0), limits: { timeBudgetMs: 100, maxOutputBytes: 1024 } });
    expect(host.sent.shift()).toMatchObject({ t: 'ready', i: 1 });
    // The clock is read every eighth message: slices of 8, 8 and 4 (each message one byte, one output).
    host.post(batchOf([...'abcdefghijklmnopqrst']));
    // Each cut batch goes on from where it stopped, as the thread host's next slice would (bounded: a cut that
    // made no progress would resume forever).
    for (let slice = 0; slice < 10 && host.resumed.length > 0; slice++) host.post(host.resumed.shift()!);
    const done = host.sent.map((m) => m as Extract<FromHost, { t: 'done' }>);
    expect(done.map((d) => [d.processed, d.more, d.out.count])).toEqual([
      [8, 8, 8],
      [8, 8, 8],
      [4, undefined, 4],
    ]);
  });
});
