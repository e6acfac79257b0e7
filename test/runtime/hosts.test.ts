import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BACKSTOP_GRACE_MS, StepRuntime, type LoadedStep } from '../../agent/runtime/index.js';
import { THREAD_HOST_MAX_BUDGET_MS } from '../../agent/runtime/thread-host.js';
import { manifestFor } from '../../shared/step-manifest.js';
import { eventually } from '../helpers/cluster.js';
import { bytes, compileWat, loadBytes, loadWat, startRecorded } from './harness.js';

/** Loops `n` times (n = the input's first byte x 1,000,000), then emits the input: work that takes a while, ends. */
const COUNTED = `(module
  (import "flotilla" "emit" (func $emit (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $n i32)
    (local.set $n (i32.mul (i32.load8_u (local.get $ptr)) (i32.const 1000000)))
    (block $done (loop $more
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $more)))
    (call $emit (local.get $ptr) (local.get $len))
    (i32.const 0)))`;

/** The two kinds of step host: the agent's own thread (the default), and a worker isolate (a named host). */
const HOST_KINDS: [string, string | undefined][] = [
  ['the agent thread', undefined],
  ['a worker', 'w'],
];

describe('step hosts', () => {
  it('metered steps share the default host, in the agent thread: ten steps, no thread spawned', async () => {
    const runtime = new StepRuntime();
    const echo = await loadWat(runtime, 'echo');
    const steps = await Promise.all(Array.from({ length: 10 }, () => startRecorded(runtime, echo)));
    expect(new Set(steps.map((s) => s.handle.threadId))).toEqual(new Set([threadId]));
    expect(runtime.hosts()).toEqual({ spawned: 0, hosts: 1, instances: 10 });
    steps.forEach((s, i) => s.handle.push(bytes(`m${i}`)));
    for (const [i, s] of steps.entries()) expect(Buffer.from((await s.outputs(1))[0]).toString()).toBe(`m${i}`);
    await runtime.stop();
  });

  it('each instance has its own linear memory', async () => {
    // Counts its messages in memory[0] and emits the count.
    const counter = `(module (import "flotilla" "emit" (func $e (param i32 i32))) (memory (export "memory") 1)
      (func (export "alloc") (param i32) (result i32) (i32.const 16))
      (func (export "process") (param i32 i32) (result i32)
        (i32.store8 (i32.const 0) (i32.add (i32.load8_u (i32.const 0)) (i32.const 1))) (call $e (i32.const 0) (i32.const 1)) (i32.const 0)))`;
    const runtime = new StepRuntime();
    const step = await loadBytes(runtime, compileWat('counter', counter));
    const [a, b] = await Promise.all([startRecorded(runtime, step), startRecorded(runtime, step)]);
    expect(a.handle.threadId).toBe(b.handle.threadId);
    for (let i = 0; i < 3; i++) a.handle.push(bytes('x'));
    b.handle.push(bytes('x'));
    expect((await a.outputs(3)).map((o) => o[0])).toEqual([1, 2, 3]);
    expect((await b.outputs(1)).map((o) => o[0])).toEqual([1]);
    await runtime.stop();
  });

  it('the host option gives a step a host of its own', async () => {
    const runtime = new StepRuntime();
    const echo = await loadWat(runtime, 'echo');
    const a = await startRecorded(runtime, echo);
    const b = await startRecorded(runtime, echo, { host: 'b' });
    const c = await startRecorded(runtime, echo, { host: 'b' });
    expect(b.handle.threadId).not.toBe(a.handle.threadId);
    expect(c.handle.threadId).toBe(b.handle.threadId);
    expect(runtime.hosts()).toMatchObject({ spawned: 1, hosts: 2 });
    await runtime.stop();
  });

  it('a restart is a new instance in the running host: no thread is spawned', async () => {
    const runtime = new StepRuntime();
    const [trap, echo] = await Promise.all([loadWat(runtime, 'trap'), loadWat(runtime, 'echo')]);
    const keep = await startRecorded(runtime, echo);
    for (let i = 0; i < 5; i++) {
      const s = await startRecorded(runtime, trap);
      expect(s.handle.threadId).toBe(keep.handle.threadId);
      s.handle.push(bytes('x'));
      expect(await s.exit).toBe('trap:unreachable');
    }
    expect(runtime.hosts()).toEqual({ spawned: 0, hosts: 1, instances: 1 });
    await runtime.stop();
  });

  it('inThread: false gives the default host a worker isolate', async () => {
    const runtime = new StepRuntime({ inThread: false });
    const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
    expect(s.handle.threadId).not.toBe(threadId);
    expect(runtime.hosts()).toEqual({ spawned: 1, hosts: 1, instances: 1 });
    await runtime.stop();
  });

  it('a step whose budget would hold up the agent thread too long runs in a worker; a swap to such a version is refused (its runner restarts it)', async () => {
    const runtime = new StepRuntime();
    const [short, long] = await Promise.all([loadWat(runtime, 'echo'), loadWat(runtime, 'echo', { timeBudgetMs: THREAD_HOST_MAX_BUDGET_MS + 1 })]);
    const a = await startRecorded(runtime, short);
    const b = await startRecorded(runtime, long);
    expect([a.handle.threadId === threadId, b.handle.threadId === threadId]).toEqual([true, false]);
    await expect(a.handle.swap(long)).rejects.toThrow(/cannot run in this step host \(metered: true, budget 1001 ms\)/);
    a.handle.push(bytes('still the old version'));
    expect(Buffer.from((await a.outputs(1))[0]).toString()).toBe('still the old version');
    await runtime.stop();
  });

  it('the agent thread gets its turn between slices: a timer fires while a step works through a long batch', async () => {
    const runtime = new StepRuntime();
    const s = await startRecorded(runtime, await loadBytes(runtime, compileWat('counted', COUNTED)));
    // 300 messages of a million iterations each (1-3 ms): one batch, far longer than a slice.
    for (let i = 0; i < 300; i++) s.handle.push(Uint8Array.of(1));
    const timer = performance.now();
    const late = await new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - timer), 1));
    expect(s.handle.stats().processed).toBeLessThan(300);
    expect(late).toBeLessThan(100); // a slice and a message, not the whole batch
    await s.outputs(300);
    expect(s.handle.stats()).toMatchObject({ in: 300, processed: 300, out: 300, queued: 0, dropped: 0 });
    await runtime.stop();
  });

  it.each(HOST_KINDS)('onStarted (%s) comes before the first output of a start answered with its first messages', async (_kind, host) => {
    const runtime = new StepRuntime();
    const order: string[] = [];
    const handle = await runtime.start({ id: 'e', step: await loadWat(runtime, 'echo'), host, initial: [bytes('a'), bytes('b')], onStarted: () => order.push('started'), onOutput: () => order.push('output') });
    await eventually(() => order.length === 3);
    expect(order).toEqual(['started', 'output', 'output']);
    expect(handle.stats()).toMatchObject({ in: 2, out: 2 });
    await runtime.stop();
  });

  it('a step spinning to its budget and restarted at once still lets the agent\'s timers run before its next call', async () => {
    const runtime = new StepRuntime();
    const loop = await loadWat(runtime, 'loop', { timeBudgetMs: 30 });
    let fired = 0;
    const timer = setInterval(() => fired++, 1);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await runtime.start({ id: 'spin', step: loop });
      s.push(bytes('L'));
      expect(await s.exited).toBe('timeout');
      seen.push(fired);
    }
    clearInterval(timer);
    expect(new Set(seen).size, `timer count after each spin: ${seen}`).toBe(5);
    await runtime.stop();
  });

  it('metering refills the fuel: a long, finite loop within its budget completes', async () => {
    const runtime = new StepRuntime();
    const step = await loadBytes(runtime, compileWat('counted', COUNTED), { timeBudgetMs: 30_000 });
    expect(step.metered).toBe(true);
    const s = await startRecorded(runtime, step);
    s.handle.push(Uint8Array.of(50)); // 50 million iterations: many ticks
    expect((await s.outputs(1))[0][0]).toBe(50);
    await runtime.stop();
  });

  it('killing a spinning metered step ends it at its next tick; its neighbours keep the (worker) host', async () => {
    const runtime = new StepRuntime();
    const [loop, echo] = await Promise.all([loadWat(runtime, 'loop', { timeBudgetMs: 60_000 }), loadWat(runtime, 'echo')]);
    const neighbour = await startRecorded(runtime, echo, { host: 'w' });
    const s = await startRecorded(runtime, loop, { host: 'w' });
    s.handle.push(bytes('L'));
    await new Promise((r) => setImmediate(r));
    expect(await s.handle.stop(50)).toBe('killed');
    neighbour.handle.push(bytes('still here'));
    await neighbour.outputs(1);
    expect(neighbour.text()).toEqual(['still here']);
    expect(runtime.hosts()).toMatchObject({ spawned: 1, hosts: 1 });
    await runtime.stop();
  });

  it('messages handed to a busy host count against the queue limit: its input stays bounded', async () => {
    const runtime = new StepRuntime();
    const s = await startRecorded(runtime, await loadWat(runtime, 'loop', { timeBudgetMs: 60_000 }), { maxQueued: 10 });
    s.handle.push(bytes('L'));
    // Spread over time, so the stalled host is handed more than the usual two batches.
    let accepted = 0;
    for (let i = 0; i < 30; i++) {
      if (s.handle.push(bytes('x'))) accepted++;
      await new Promise((r) => setTimeout(r, 3));
    }
    expect(accepted).toBe(9);
    expect(s.handle.stats()).toMatchObject({ in: 10, processed: 0, queued: 10, dropped: 21 });
    await runtime.stop();
  });

  // A loop the metering missed (as if the rewriter had a hole): the module is taken for metered, never ticks.
  it.each(HOST_KINDS)('backstop (%s): a host stuck in a call that never ticks is ended; the stuck step exits timeout, the others killed', async (_kind, host) => {
    const runtime = new StepRuntime();
    const hole = compileWat('spin', COUNTED.replace('(br_if $done (i32.eqz (local.get $n)))', '').replace('(memory (export "memory") 1)', '(import "flotilla_meter" "tick" (func $tick)) (memory (export "memory") 1) (global (export "flotilla_fuel") (mut i32) (i32.const 0))'));
    const spin: LoadedStep = { module: await WebAssembly.compile(hole), manifest: manifestFor(hole, { name: 'spin', version: '1', limits: { timeBudgetMs: 100 } }), metered: true };
    const echo = await loadWat(runtime, 'echo', { timeBudgetMs: 100 });
    const bystander = await startRecorded(runtime, echo, { host });
    const stuck = await startRecorded(runtime, spin, { host });
    const before = runtime.hosts().spawned;
    const t0 = performance.now();
    stuck.handle.push(Uint8Array.of(1));
    expect(await stuck.exit).toBe('timeout');
    expect(await bystander.exit).toBe('killed');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100 + BACKSTOP_GRACE_MS - 20);
    expect(runtime.hosts()).toMatchObject({ hosts: 0, instances: 0 });
    // The next start gets a new host.
    const fresh = await startRecorded(runtime, echo, { host });
    if (host) expect(fresh.handle.threadId).not.toBe(bystander.handle.threadId);
    expect(runtime.hosts()).toMatchObject({ spawned: before + (host ? 1 : 0), hosts: 1 });
    fresh.handle.push(bytes('again'));
    expect(Buffer.from((await fresh.outputs(1))[0]).toString()).toBe('again');
    await runtime.stop();
  });

  it('unmetered steps run in hosts of their own; a vacated one is reused by the next start', async () => {
    const runtime = new StepRuntime({ metering: false });
    const [trap, echo] = await Promise.all([loadWat(runtime, 'trap'), loadWat(runtime, 'echo')]);
    expect(trap.metered).toBe(false);
    const a = await startRecorded(runtime, echo);
    const b = await startRecorded(runtime, trap);
    expect(b.handle.threadId).not.toBe(a.handle.threadId);
    b.handle.push(bytes('x'));
    expect(await b.exit).toBe('trap:unreachable');
    const c = await startRecorded(runtime, echo);
    expect(c.handle.threadId).toBe(b.handle.threadId);
    expect(runtime.hosts()).toEqual({ spawned: 2, hosts: 2, instances: 2 });
    await runtime.stop();
  });

  it('a worker host with no step left ends after hostIdleMs (the agent thread\'s stays: it costs nothing)', async () => {
    const runtime = new StepRuntime({ hostIdleMs: 20 });
    const mine = await startRecorded(runtime, await loadWat(runtime, 'echo'));
    const s = await startRecorded(runtime, await loadWat(runtime, 'echo'), { host: 'w' });
    expect(runtime.hosts().hosts).toBe(2);
    await Promise.all([s.handle.stop('brutal_kill'), mine.handle.stop('brutal_kill')]);
    await eventually(() => runtime.hosts().hosts === 1, 5_000, 'the idle worker host to end');
    const again = await startRecorded(runtime, await loadWat(runtime, 'echo'), { host: 'w' });
    again.handle.push(bytes('new host'));
    await again.outputs(1);
    expect(runtime.hosts()).toMatchObject({ spawned: 2, hosts: 2 });
    await runtime.stop();
  });

  it('pipe in the agent thread hands nothing over: every output goes to onOutput, for the caller to route', async () => {
    const runtime = new StepRuntime();
    const echo = await loadWat(runtime, 'echo');
    const piped: string[][] = [];
    const a = await startRecorded(runtime, echo, { onOutput: (_p, to) => piped.push(to.map((h) => h.id)) });
    const b = await startRecorded(runtime, echo);
    a.handle.pipe([b.handle]);
    a.handle.push(bytes('x'));
    await eventually(() => piped.length === 1);
    expect(piped).toEqual([[]]);
    expect(b.handle.stats().in).toBe(0);
    await runtime.stop();
  });

  it('pipe in a worker host: outputs are handed to a consumer in the same host, never to one in another; a consumer that traps exits alone', async () => {
    const runtime = new StepRuntime();
    const echo = await loadWat(runtime, 'echo');
    const piped: string[][] = [];
    const a = await startRecorded(runtime, echo, { host: 'p', onOutput: (_p, to) => piped.push(to.map((h) => h.id)) });
    const same = await startRecorded(runtime, echo, { id: 'same', host: 'p' });
    const bad = await startRecorded(runtime, await loadWat(runtime, 'trap'), { id: 'bad', host: 'p' });
    const other = await startRecorded(runtime, echo, { id: 'other', host: 'other' });
    a.handle.pipe([same.handle, bad.handle, other.handle]);
    a.handle.push(bytes('x'));
    expect(Buffer.from((await same.outputs(1))[0]).toString()).toBe('x');
    expect(await bad.exit).toMatch(/^trap:/);
    await eventually(() => expect(piped).toEqual([['same', 'bad']]));
    expect(other.out).toEqual([]);
    expect(same.handle.stats()).toMatchObject({ in: 1, processed: 1, out: 1, dropped: 0 });
    // The trapped consumer is gone from the host: the producer runs on, its next output goes to `same` only.
    a.handle.push(bytes('y'));
    await same.outputs(2);
    await eventually(() => expect(piped).toEqual([['same', 'bad'], ['same']]));
    expect(a.handle.stats()).toMatchObject({ processed: 2, out: 2 });
    await runtime.stop();
  });
});
