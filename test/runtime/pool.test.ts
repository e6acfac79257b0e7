import { describe, expect, it } from 'vitest';
import { StepRuntime } from '../../agent/runtime/index.js';
import { eventually } from '../helpers/cluster.js';
import { bytes, loadWat, startRecorded } from './harness.js';

describe('isolate pool (warm spares)', () => {
  it('a start takes the pre-spawned, warmed-up spare; the first start, with no step running, spawns its own', async () => {
    const runtime = new StepRuntime({ spares: 1 });
    const echo = await loadWat(runtime, 'echo');
    expect(runtime.isolates()).toMatchObject({ spawned: 0, spares: 0 }); // none while no step is deployed
    const first = await startRecorded(runtime, echo);
    expect(runtime.isolates()).toMatchObject({ cold: 1, fromSpare: 0 });

    await runtime.sparesReady();
    const { spareThreadIds, spawned } = runtime.isolates();
    expect(runtime.isolates()).toMatchObject({ spares: 1, warm: 1, spawned: 2 });
    const second = await startRecorded(runtime, echo);
    expect(second.handle.threadId).toBe(spareThreadIds[0]);
    expect(runtime.isolates()).toMatchObject({ cold: 1, fromSpare: 1 });
    second.handle.push(bytes('from a spare'));
    await second.outputs(1);
    expect(second.text()).toEqual(['from a spare']);

    await runtime.sparesReady(); // the pool refilled in the background
    expect(runtime.isolates()).toMatchObject({ spares: 1, warm: 1, spawned: spawned + 1 });
    await Promise.all([first.handle.stop('brutal_kill'), second.handle.stop('brutal_kill'), runtime.stop()]);
  });

  it('a crashed or killed isolate is never reused: every start runs in a thread of its own', async () => {
    const runtime = new StepRuntime({ spares: 1 });
    const [trap, echo] = await Promise.all([loadWat(runtime, 'trap'), loadWat(runtime, 'echo')]);
    const keep = await startRecorded(runtime, echo); // keeps the pool filled between the crashes
    const threads = [keep.handle.threadId];
    for (let i = 0; i < 4; i++) {
      await runtime.sparesReady();
      const s = await startRecorded(runtime, i % 2 ? trap : echo);
      threads.push(s.handle.threadId);
      if (i % 2) s.handle.push(bytes('x'));
      else void s.handle.stop('brutal_kill');
      expect(await s.exit).toBe(i % 2 ? 'trap:unreachable' : 'killed');
      expect(runtime.isolates().spareThreadIds).not.toContain(s.handle.threadId);
    }
    expect(new Set(threads).size).toBe(threads.length);
    // Each spawned thread went to at most one start: no thread was handed out twice.
    const stats = runtime.isolates();
    expect(stats.spawned).toBe(stats.cold + stats.fromSpare + stats.spares);
    expect(stats.fromSpare).toBe(4);
    await Promise.all([keep.handle.stop('brutal_kill'), runtime.stop()]);
  });

  it('a spare taken before it has warmed up runs the step all the same', async () => {
    const runtime = new StepRuntime({ spares: 1 });
    const echo = await loadWat(runtime, 'echo');
    const first = await startRecorded(runtime, echo);
    await new Promise((r) => setImmediate(r)); // the refill is spawned after the start, off its path
    expect(runtime.isolates().spares).toBe(1);
    const second = await startRecorded(runtime, echo);
    expect(runtime.isolates().fromSpare).toBe(1);
    second.handle.push(bytes('early'));
    await second.outputs(1);
    expect(second.text()).toEqual(['early']);
    await Promise.all([first.handle.stop('brutal_kill'), second.handle.stop('brutal_kill'), runtime.stop()]);
  });

  it('spares: 0 spawns an isolate per start and keeps none', async () => {
    const runtime = new StepRuntime({ spares: 0 });
    const echo = await loadWat(runtime, 'echo');
    const a = await startRecorded(runtime, echo);
    await runtime.sparesReady(); // resolves at once: the pool wants none
    const b = await startRecorded(runtime, echo);
    b.handle.push(bytes('cold'));
    await b.outputs(1);
    expect(runtime.isolates()).toMatchObject({ spawned: 2, cold: 2, fromSpare: 0, spares: 0, threads: 2 });
    await Promise.all([a.handle.stop('brutal_kill'), b.handle.stop('brutal_kill')]);
    expect(runtime.isolates().threads).toBe(0);
  });

  it('rejects a pool size that is not a whole number >= 0', () => {
    expect(() => new StepRuntime({ spares: -1 })).toThrow(/spares must be a whole number >= 0, got -1/);
    expect(() => new StepRuntime({ spares: 1.5 })).toThrow(/got 1.5/);
  });

  it('spares are terminated once no step has run for sparesIdleMs', async () => {
    const runtime = new StepRuntime({ spares: 1, sparesIdleMs: 20 });
    const s = await startRecorded(runtime, await loadWat(runtime, 'echo'));
    await runtime.sparesReady();
    await s.handle.stop('brutal_kill');
    await eventually(() => runtime.isolates().threads === 0, 5_000, 'the idle spare to be terminated');
    expect(runtime.isolates().spares).toBe(0);
  });

  it('stop() terminates the spares: no thread is left, and later starts keep none', async () => {
    const runtime = new StepRuntime({ spares: 2 });
    const echo = await loadWat(runtime, 'echo');
    const s = await startRecorded(runtime, echo);
    await runtime.sparesReady();
    expect(runtime.isolates()).toMatchObject({ spares: 2, threads: 3 });
    await runtime.stop();
    expect(runtime.isolates()).toMatchObject({ spares: 0, threads: 1 });
    await s.handle.stop('brutal_kill');
    expect(runtime.isolates().threads).toBe(0);

    const later = await startRecorded(runtime, echo);
    await new Promise((r) => setImmediate(r));
    expect(runtime.isolates()).toMatchObject({ spares: 0, threads: 1 });
    await later.handle.stop('brutal_kill');
    expect(runtime.isolates().threads).toBe(0);
  });
});
