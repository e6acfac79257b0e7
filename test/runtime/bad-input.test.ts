import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepInputError, StepLoadError, StepRuntime, StepStartError, type StepHandle } from '../../agent/runtime/index.js';
import { manifestFor } from '../../shared/step-manifest.js';
import { bytes, loadBytes, loadWat, startRecorded, wat, type Recorded } from './harness.js';

// Each bad input from the step ABI gets an exact hand-written module (test/fixtures/wat) and a clear error. The
// suite runs three times: unmetered modules (each step in a worker host of its own) and metered ones, where every
// step, the healthy neighbour included, shares one host (the agent's own thread, or a worker): a bad step must end
// only its own instance.
describe.each([
  { mode: 'each step in a host of its own (unmetered)', shared: false, make: () => new StepRuntime({ metering: false }) },
  { mode: 'all steps in the agent thread\'s host (metered)', shared: true, make: () => new StepRuntime() },
  { mode: 'all steps in one shared worker host (metered)', shared: true, make: () => new StepRuntime({ inThread: false }) },
])('$mode', ({ shared, make }) => {
  const runtime = make();
  /** A healthy step running beside the failing ones: whatever they do, it keeps answering. */
  let neighbour: Recorded;
  beforeAll(async () => {
    neighbour = await startRecorded(runtime, await loadWat(runtime, 'echo'));
  });
  afterAll(() => runtime.stop());

  async function neighbourStillAnswers(bad?: StepHandle) {
    if (bad) expect(bad.threadId === neighbour.handle.threadId).toBe(shared);
    const before = neighbour.out.length;
    neighbour.handle.push(bytes('ping'));
    const out = await neighbour.outputs(before + 1);
    expect(Buffer.from(out[before]).toString()).toBe('ping');
  }

  describe('load-time rejection (ABI: checked before anything runs)', () => {
    it('rejects bytes that are not Wasm', async () => {
      const junk = bytes('#!/bin/sh\necho hi\n');
      await expect(loadBytes(runtime, junk)).rejects.toThrow(/not a WebAssembly module: .*magic bytes/);
    });

    it('rejects a truncated module', async () => {
      const good = wat('echo');
      await expect(loadBytes(runtime, good.subarray(0, good.length - 7))).rejects.toThrow(StepLoadError);
    });

    it.each([
      ['missing-memory', /missing export "memory"/],
      ['missing-alloc', /missing export "alloc": ABI 1 requires alloc\(i32\) -> \(i32\)/],
      ['missing-process', /missing export "process"/],
    ])('rejects a module with %s', async (name, message) => {
      await expect(loadWat(runtime, name)).rejects.toThrow(message);
    });

    it('rejects a foreign import, naming it', async () => {
      await expect(loadWat(runtime, 'foreign-import')).rejects.toThrow('forbidden import "wasi_snapshot_preview1.fd_write" (func)');
    });

    it('rejects an allowed import with the wrong signature', async () => {
      await expect(loadWat(runtime, 'wrong-signature')).rejects.toThrow('import "flotilla.emit" has signature (i32, i64) -> (), ABI 1 requires (i32, i32) -> ()');
    });

    it('rejects a module whose initial memory is over the limit', async () => {
      await expect(loadWat(runtime, 'big-initial-memory')).rejects.toThrow('memory starts at 300 pages, over the manifest limit of 256 pages');
    });

    it('rejects bytes that do not match the manifest sha256', async () => {
      const manifest = manifestFor(wat('echo'), { name: 'echo', version: '1' });
      await expect(runtime.load(wat('trap'), manifest)).rejects.toThrow(/sha256 mismatch/);
    });
  });

  describe('start failures', () => {
    it('init returning non-zero fails the start with start_failed and keeps the logs', async () => {
      const step = await loadWat(runtime, 'init-fails');
      const logs: string[] = [];
      const err = await runtime.start({ id: 'x', step, onLog: (level, m) => logs.push(`${level} ${m}`) }).catch((e) => e);
      expect(err).toBeInstanceOf(StepStartError);
      expect(err.reason).toBe('start_failed:init returned 7');
      expect(logs).toEqual(['error missing field']);
    });

    it('init that never returns fails the start at the time budget', async () => {
      const step = await loadWat(runtime, 'init-loop', { timeBudgetMs: 100 });
      await expect(runtime.start({ id: 'x', step })).rejects.toMatchObject({ reason: 'start_failed:init exceeded the time budget of 100 ms' });
      await neighbourStillAnswers();
    });
  });

  describe('faults while processing end only that step', () => {
    it('a trap in process exits with trap:<message>', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'trap'));
      s.handle.push(bytes('x'));
      expect(await s.exit).toBe('trap:unreachable');
      await neighbourStillAnswers(s.handle);
    });

    it('an infinite loop exits with timeout at the time budget', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'loop', { timeBudgetMs: 200 }));
      s.handle.push(bytes('ok'));
      await s.outputs(1);
      const started = Date.now();
      s.handle.push(bytes('L'));
      s.handle.push(bytes('never processed'));
      expect(await s.exit).toBe('timeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(200);
      expect(s.handle.stats()).toMatchObject({ in: 3, processed: 1, out: 1, dropped: 2, queued: 0 });
      await neighbourStillAnswers(s.handle);
    });

    it('memory.grow past the limit fails inside the step (it then traps)', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'memory-bomb', { maxMemoryPages: 40 }));
      s.handle.push(bytes('x'));
      expect(await s.exit).toBe('trap:unreachable');
      // The output of the failing message is discarded, so check the cap through a step that reports it and returns.
      const reporting = wat('memory-bomb', (t) => t.replace(/\(call \$emit \(i32.const 0\) \(i32.const 4\)\)\s*unreachable/, '(call $emit (i32.const 0) (i32.const 4)) (i32.const 0)'));
      const r = await startRecorded(runtime, await loadBytes(runtime, reporting, { maxMemoryPages: 40 }));
      r.handle.push(bytes('x'));
      const [pages] = await r.outputs(1);
      expect(new DataView(pages.buffer, pages.byteOffset).getUint32(0, true)).toBe(40);
      await r.handle.stop();
      await neighbourStillAnswers(s.handle);
    });

    it('a stack overflow is a trap', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'stack-overflow'));
      s.handle.push(bytes('x'));
      expect(await s.exit).toMatch(/^trap:.*call stack/i);
      await neighbourStillAnswers(s.handle);
    });

    it('emitting past the output limit exits with output_limit; outputs of earlier messages are delivered', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'emit-flood'));
      s.handle.push(Uint8Array.of(16)); // exactly 1 MiB: allowed
      s.handle.push(Uint8Array.of(17)); // 1 MiB + 64 KiB: over
      expect(await s.exit).toBe('output_limit');
      expect(s.out.length).toBe(16);
      expect(s.handle.stats()).toMatchObject({ processed: 1, out: 16, dropped: 1 });
      await neighbourStillAnswers(s.handle);
    });

    it('alloc returning an out-of-range pointer is a trap naming the pointer', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'bad-alloc'));
      s.handle.push(bytes('hello'));
      expect(await s.exit).toBe('trap:alloc returned out-of-range pointer 4294967040 for 5 bytes (memory is 65536 bytes)');
      await neighbourStillAnswers(s.handle);
    });

    it('env.abort traps with the decoded AssemblyScript message', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'abort'));
      s.handle.push(bytes('x'));
      expect(await s.exit).toBe('trap:abort: oo at s.ts:3:9');
      await neighbourStillAnswers(s.handle);
    });

    it('process returning 1 is a normal exit, another non-zero value is exit:<code>', async () => {
      const step = await loadWat(runtime, 'finish');
      const a = await startRecorded(runtime, step);
      a.handle.push(Uint8Array.of(0));
      a.handle.push(Uint8Array.of(1));
      a.handle.push(Uint8Array.of(0));
      expect(await a.exit).toBe('normal');
      expect(a.out.map((o) => o[0])).toEqual([0, 1]); // the finishing message's outputs count; the rest is dropped
      expect(a.handle.stats()).toMatchObject({ processed: 2, dropped: 1 });
      const b = await startRecorded(runtime, step);
      b.handle.push(Uint8Array.of(42));
      expect(await b.exit).toBe('exit:42');
    });
  });

  describe('message sizes', () => {
    it('a 0-byte message is delivered and echoed as 0 bytes', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
      s.handle.push(new Uint8Array(0));
      s.handle.push(bytes('after'));
      expect((await s.outputs(2)).map((o) => o.length)).toEqual([0, 5]);
      await s.handle.stop();
    });

    it('a 10 MiB message over maxInputBytes is refused at push and the step goes on', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
      const big = new Uint8Array(10 * 1024 * 1024);
      expect(() => s.handle.push(big)).toThrow(StepInputError);
      expect(() => s.handle.push(big)).toThrow("message of 10485760 bytes exceeds the step's maxInputBytes of 1048576");
      s.handle.push(bytes('still here'));
      expect(Buffer.from((await s.outputs(1))[0]).toString()).toBe('still here');
      await s.handle.stop();
    });

    it('a 10 MiB message within raised limits round-trips intact', async () => {
      const mib10 = 10 * 1024 * 1024;
      const s = await startRecorded(runtime, await loadWat(runtime, 'echo', { maxInputBytes: mib10, maxOutputBytes: mib10 }));
      const big = new Uint8Array(mib10).map((_, i) => i * 7);
      s.handle.push(big);
      const [out] = await s.outputs(1);
      expect(out.length).toBe(mib10);
      expect(Buffer.compare(out, big)).toBe(0);
      await s.handle.stop();
    });

    it('a 10 MiB message that does not fit the memory limit makes alloc fail: a trap, not an agent crash', async () => {
      const mib10 = 10 * 1024 * 1024;
      const s = await startRecorded(runtime, await loadWat(runtime, 'echo', { maxInputBytes: mib10, maxMemoryPages: 64 }));
      s.handle.push(new Uint8Array(mib10));
      expect(await s.exit).toBe('trap:alloc returned out-of-range pointer 4294967295 for 10485760 bytes (memory is 65536 bytes)');
      await neighbourStillAnswers(s.handle);
    });
  });
});
