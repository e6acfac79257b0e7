import { afterAll, describe, expect, it } from 'vitest';
import { StepRuntime } from '../../agent/runtime/index.js';
import { bytes, loadBytes, loadWat, startRecorded, wat } from './harness.js';

const runtime = new StepRuntime();
const started: { stop(s: 'brutal_kill'): Promise<unknown> }[] = [];
afterAll(() => Promise.all(started.map((h) => h.stop('brutal_kill'))));

describe('step handle', () => {
  it('passes config to init, forwards logs, and delivers outputs in order', async () => {
    const s = await startRecorded(runtime, await loadWat(runtime, 'tag'), { config: { field: 'temp' } });
    started.push(s.handle);
    expect(s.logs).toEqual([['info', '{"field":"temp"}']]);
    for (let i = 0; i < 5000; i++) s.handle.push(bytes(`m${i}`));
    const out = await s.outputs(5000);
    expect(out.map((o) => Buffer.from(o).toString())).toEqual(Array.from({ length: 5000 }, (_, i) => `Am${i}`));
    expect(s.handle.stats()).toEqual({ in: 5000, out: 5000, processed: 5000, queued: 0, dropped: 0 });
  });

  it('initial messages run right after init, before later pushes; a failed init runs none of them', async () => {
    const s = await startRecorded(runtime, await loadWat(runtime, 'echo'), { initial: [bytes('first'), bytes('second')] });
    started.push(s.handle);
    s.handle.push(bytes('third'));
    await s.outputs(3);
    expect(s.text()).toEqual(['first', 'second', 'third']);
    expect(s.handle.stats()).toMatchObject({ in: 3, processed: 3 });
    await expect(runtime.start({ id: 'x', step: await loadWat(runtime, 'init-fails'), initial: [bytes('never')] })).rejects.toMatchObject({ reason: 'start_failed:init returned 7' });
  });

  it('copies the payload at push: the caller may reuse its buffer', async () => {
    const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
    started.push(s.handle);
    const buf = bytes('one');
    s.handle.push(buf);
    buf.set(bytes('two'));
    s.handle.push(buf);
    await s.outputs(2);
    expect(s.text()).toEqual(['one', 'two']);
  });

  it('drops (returns false) when the queue is full, and counts it', async () => {
    const s = await startRecorded(runtime, await loadWat(runtime, 'echo'), { maxQueued: 10 });
    started.push(s.handle);
    const accepted = Array.from({ length: 15 }, () => s.handle.push(bytes('x'))).filter(Boolean).length;
    expect(accepted).toBe(10);
    expect(s.handle.stats()).toMatchObject({ in: 10, dropped: 5, queued: 10 });
    await s.outputs(10);
    expect(s.handle.stats()).toMatchObject({ processed: 10, queued: 0 });
  });

  describe('stop (OTP shutdown semantics)', () => {
    it('graceful stop finishes what the isolate holds and exits with shutdown', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
      for (let i = 0; i < 100; i++) s.handle.push(bytes(`${i}`));
      await s.outputs(100);
      expect(await s.handle.stop(1000)).toBe('shutdown');
      expect(await s.exit).toBe('shutdown');
      expect(s.handle.push(bytes('late'))).toBe(false);
      expect(s.handle.stats()).toMatchObject({ processed: 100, dropped: 1 });
    });

    it('OTP: a child that does not stop within the shutdown timeout is killed', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'loop', { timeBudgetMs: 60_000 }));
      s.handle.push(bytes('L'));
      // Let the micro-batch flush hand the message to the isolate: the stop request then queues behind the loop.
      await new Promise((r) => setImmediate(r));
      expect(await s.handle.stop(50)).toBe('killed');
    });

    it('OTP: brutal_kill terminates at once', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
      expect(await s.handle.stop('brutal_kill')).toBe('killed');
      expect(await s.exit).toBe('killed');
    });

    it('stopping an exited step returns its exit reason', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'trap'));
      s.handle.push(bytes('x'));
      await s.exit;
      expect(await s.handle.stop()).toBe('trap:unreachable');
    });
  });

  describe('hot swap', () => {
    const v2 = () => wat('tag', (t) => t.replace('(i32.const 65)) ;; TAG', '(i32.const 66)) ;; TAG'));

    it('swaps between messages: none lost, none processed twice, old before new', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'tag'));
      started.push(s.handle);
      const next = await loadBytes(runtime, v2(), {}, 'tag');
      const total = 20_000;
      let swapped: Promise<void> | undefined;
      for (let i = 0; i < total; i++) {
        s.handle.push(bytes(String(i)));
        if (i === 12_345) swapped = s.handle.swap(next, 'v2');
        if (i % 1000 === 0) await new Promise((r) => setImmediate(r)); // let batches flow mid-swap
      }
      await swapped;
      const out = await s.outputs(total);
      expect(out.length).toBe(total);
      const texts = out.map((o) => Buffer.from(o).toString());
      texts.forEach((t, i) => expect(t).toBe(`${i <= 12_345 ? 'A' : 'B'}${i}`));
      expect(s.handle.manifest.sha256).toBe(next.manifest.sha256);
      expect(s.logs.at(-1)).toEqual(['info', 'v2']);
    });

    it('a failed swap rejects and the old version keeps running', async () => {
      const s = await startRecorded(runtime, await loadWat(runtime, 'tag'));
      started.push(s.handle);
      s.handle.push(bytes('1'));
      await expect(s.handle.swap(await loadWat(runtime, 'init-fails'))).rejects.toThrow(/failed, the old version keeps running: init returned 7/);
      s.handle.push(bytes('2'));
      expect((await s.outputs(2)).map((o) => Buffer.from(o).toString())).toEqual(['A1', 'A2']);
    });
  });

  it('compiles each module once: loading the same bytes again hits the cache', async () => {
    const a = await loadWat(runtime, 'echo');
    const b = await loadWat(runtime, 'echo');
    expect(b.module).toBe(a.module);
    const c = await loadWat(runtime, 'echo', { maxMemoryPages: 17 }); // a different memory cap is a different module
    expect(c.module).not.toBe(a.module);
    runtime.forget(a.manifest.sha256);
    expect((await loadWat(runtime, 'echo')).module).not.toBe(a.module);
  });
});
