import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StepRuntime, type LoadedStep } from '../../agent/runtime/index.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { Observed, bytes, loadSteps } from './steps.js';

// Real isolates running test/fixtures/wat/supervised-crashy.wat, observed through the runner's events.

const runtime = new StepRuntime();
let resolveStep: (ref: string) => Promise<LoadedStep>;
const running: Observed[] = [];

beforeAll(async () => {
  resolveStep = await loadSteps(runtime);
});

afterEach(async () => {
  for (const o of running.splice(0)) if (o.runner.status !== 'stopped') await o.runner.stop();
});

function observe(spec: unknown, extra: ConstructorParameters<typeof Observed>[3] = {}): Observed {
  const o = new Observed(spec, (ref) => resolveStep(ref), runtime, extra);
  running.push(o);
  return o;
}

const crashy = (id: string, extra: Record<string, unknown> = {}) => ({ id, step: 'crashy@1', output: `out/${id}`, ...extra });

describe('SupervisorRunner with real Wasm steps', () => {
  it('starts children in order, routes inputs and outputs, and stops them in reverse order', async () => {
    const o = observe({ id: 'root', children: [crashy('a', { input: 'sensors/+/raw' }), crashy('b')] });
    await o.runner.start();
    expect(o.runner.topicFilters()).toEqual(['sensors/+/raw']);
    expect(o.runner.deliverTopic('sensors/t1/raw', bytes('21.5'))).toBe(1);
    expect(o.runner.deliverTopic('other/topic', bytes('x'))).toBe(0);
    o.runner.deliver('root/b', bytes('hello'));
    await o.waitFor(() => o.outputs.length === 2, 'two outputs');
    expect(o.outputs).toEqual(
      expect.arrayContaining([
        { path: 'root/a', topic: 'out/a', text: '21.5' },
        { path: 'root/b', topic: 'out/b', text: 'hello' },
      ]),
    );
    await o.runner.stop();
    expect(o.lines()).toEqual([
      'child_started root a',
      'child_started root b',
      'child_terminated root b shutdown',
      'child_terminated root a shutdown',
      'supervisor_shutdown root shutdown',
    ]);
  });

  it('a step that traps on `crash` is restarted and processes again', async () => {
    const o = observe({ id: 'root', children: [crashy('a')] });
    await o.runner.start();
    o.runner.deliver('root/a', bytes('crash'));
    await o.event(/child_started root a/, 1);
    expect(o.lines()[1]).toMatch(/^child_terminated root a trap:/);
    o.runner.deliver('root/a', bytes('after'));
    await o.waitFor(() => o.texts('root/a').includes('after'), 'output after the restart');
    // The message during which the step trapped did not complete: it is counted as dropped.
    expect(o.runner.health()).toEqual([
      { path: 'root/a', kind: 'worker', state: 'running', restarts: 1, step: 'crashy@1', messagesIn: 2, messagesOut: 1, dropped: 1 },
    ]);
  });

  it('`stop` is a normal exit: a transient child stays stopped, a permanent one is restarted', async () => {
    const o = observe({ id: 'root', children: [crashy('t', { restart: 'transient' }), crashy('p')] });
    await o.runner.start();
    o.runner.deliver('root/t', bytes('stop'));
    o.runner.deliver('root/p', bytes('stop'));
    await o.event(/child_started root p/, 2);
    await o.event(/child_terminated root t normal/);
    expect(o.runner.health().map((c) => `${c.path}:${c.state}`)).toEqual(['root/t:stopped', 'root/p:running']);
  });

  it('a step looping on `hang` exceeds its time budget and is restarted after exit `timeout`', async () => {
    const o = observe({ id: 'root', intensity: 3, children: [crashy('a')] });
    await o.runner.start();
    o.runner.deliver('root/a', bytes('hang'));
    await o.event(/child_started root a/, 1);
    expect(o.lines()[1]).toBe('child_terminated root a timeout');
  });

  it('sup_stop_timeout: a hanging step that does not stop within its shutdown time is killed', async () => {
    const o = observe({ id: 'root', children: [{ id: 'h', step: 'slow@1', shutdown: 100 }] });
    await o.runner.start();
    o.runner.deliver('root/h', bytes('hang'));
    // Inputs go to the isolate in a microtask-flushed batch: let it leave before asking the step to stop.
    await new Promise((resolve) => setImmediate(resolve));
    const t0 = performance.now();
    await o.runner.stop();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    expect(o.lines().slice(1)).toEqual(['child_terminated root h killed', 'supervisor_shutdown root shutdown']);
  });

  it('sup_stop_brutal_kill: a hanging step with brutal_kill is killed at once', async () => {
    const o = observe({ id: 'root', children: [{ id: 'h', step: 'slow@1', shutdown: 'brutal_kill' }] });
    await o.runner.start();
    o.runner.deliver('root/h', bytes('hang'));
    await o.runner.stop();
    expect(o.lines().slice(1)).toEqual(['child_terminated root h killed', 'supervisor_shutdown root shutdown']);
  });

  it('multiple_restarts: crashes past the intensity stop the tree with reached_max_restart_intensity', async () => {
    const o = observe({ id: 'root', intensity: 1, period: 5, children: [crashy('a'), crashy('b')] });
    await o.runner.start();
    o.runner.deliver('root/a', bytes('crash'));
    await o.event(/child_started root a/, 2);
    o.runner.deliver('root/a', bytes('crash'));
    await o.event(/supervisor_shutdown root shutdown/);
    expect(o.lines().slice(2)).toEqual([
      expect.stringMatching(/^child_terminated root a trap:/),
      'child_started root a',
      expect.stringMatching(/^child_terminated root a trap:/),
      'reached_max_restart_intensity root',
      'child_terminated root b shutdown',
      'supervisor_shutdown root shutdown',
    ]);
    expect(o.runner.status).toBe('stopped');
  });

  it('escalation: a nested supervisor past its intensity is restarted by its parent (rest_for_one restarts the later siblings)', async () => {
    const o = observe({
      id: 'root',
      strategy: 'rest_for_one',
      intensity: 2,
      children: [crashy('first'), { id: 's', supervisor: { intensity: 0, children: [crashy('x')] } }, crashy('last')],
    });
    await o.runner.start();
    const before = o.events.length;
    o.runner.deliver('root/s/x', bytes('crash'));
    await o.event(/child_started root last/, before);
    expect(o.lines().slice(before)).toEqual([
      expect.stringMatching(/^child_terminated root\/s x trap:/),
      'reached_max_restart_intensity root/s',
      'supervisor_shutdown root/s shutdown',
      'child_terminated root s shutdown',
      'child_terminated root last shutdown',
      'child_started root/s x',
      'child_started root s',
      'child_started root last',
    ]);
  });

  it('sup_start_fail_nth_child: a step whose init fails makes the tree start fail after stopping the started ones', async () => {
    const o = observe({ id: 'root', children: [crashy('a'), { id: 'bad', step: 'broken@1' }, crashy('c')] });
    await expect(o.runner.start()).rejects.toThrow(/root failed to start: start_failed:bad: start_failed:/);
    expect(o.lines()).toEqual([
      'child_started root a',
      expect.stringMatching(/^child_terminated root bad start_failed:/),
      'child_terminated root a shutdown',
      expect.stringMatching(/^supervisor_shutdown root start_failed:bad: /),
    ]);
  });

  it('pipelines: {from: sibling} carries one step’s output into the next', async () => {
    const o = observe({ id: 'root', children: [crashy('parse'), crashy('alarm', { input: { from: 'parse' } })] });
    await o.runner.start();
    o.runner.deliver('root/parse', bytes('42'));
    await o.waitFor(() => o.texts('root/alarm').includes('42'), 'the output of the second step');
    expect(o.texts('root/parse')).toEqual(['42']);
  });

  // The agent thread's host has no crossing to save: the runner routes every stage itself; a worker host hands a
  // stage's outputs to the next inside it.
  it.each([
    ['the agent thread', undefined],
    ['a worker host', 'pipe'],
  ])('pipelines in one step host (%s): every stage in order, counted in and out', async (_kind, host) => {
    let piped = 0;
    const spy: typeof runtime = Object.create(runtime);
    spy.start = (options) => runtime.start({ ...options, onOutput: (payload, to) => ((piped += to.length), options.onOutput?.(payload, to)) });
    const o = observe({ id: 'root', host, children: [crashy('a'), crashy('b', { input: { from: 'a' } }), crashy('c', { input: { from: 'b' } })] }, { runtime: spy });
    await o.runner.start();
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const m of sent) o.runner.deliver('root/a', bytes(m));
    await o.waitFor(() => o.texts('root/c').length === sent.length, 'the last stage’s outputs');
    expect(o.texts('root/b')).toEqual(sent);
    expect(o.texts('root/c')).toEqual(sent);
    // In a worker: a → b and b → c inside the host, apart from what crossed before the links were made.
    if (host) expect(piped).toBeGreaterThan(0);
    else expect(piped).toBe(0);
    expect(o.runner.health().map((c) => [c.path, c.messagesIn, c.messagesOut, c.dropped])).toEqual([
      ['root/a', 200, 200, 0],
      ['root/b', 200, 200, 0],
      ['root/c', 200, 200, 0],
    ]);
  });

  it('a piped stage with no output topic sends only counts to the agent thread; a restarted consumer still gets every later message', async () => {
    // Pipes exist in worker hosts only.
    const stage = (id: string, from?: string) => ({ id, step: 'crashy@1', ...(from ? { input: { from } } : {}) });
    let counted = 0;
    const spy: typeof runtime = Object.create(runtime);
    spy.start = (options) => runtime.start({ ...options, onPiped: (count, to) => ((counted += count), options.onPiped?.(count, to)) });
    const o = observe({ id: 'root', host: 'pipe', children: [stage('a'), stage('b', 'a'), crashy('c', { input: { from: 'b' } })] }, { runtime: spy });
    await o.runner.start();
    const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const m of sent) o.runner.deliver('root/a', bytes(m));
    await o.waitFor(() => o.texts('root/c').length === sent.length, 'the last stage’s outputs');
    expect(o.texts('root/c')).toEqual(sent);
    expect(counted).toBeGreaterThan(0);
    expect(o.runner.health().map((c) => [c.path, c.messagesIn, c.messagesOut, c.dropped])).toEqual([
      ['root/a', 200, 200, 0],
      ['root/b', 200, 200, 0],
      ['root/c', 200, 200, 0],
    ]);
    // b restarts: while it does, a's outputs come back to be buffered for it, then b is linked again.
    o.runner.deliver('root/b', bytes('crash'));
    await o.event(/child_terminated root b trap/);
    for (const m of ['n1', 'n2', 'n3']) o.runner.deliver('root/a', bytes(m));
    await o.waitFor(() => o.texts('root/c').length === sent.length + 3, 'the messages sent around the restart');
    expect(o.texts('root/c').slice(-3)).toEqual(['n1', 'n2', 'n3']);
  });

  it.each([
    ['the agent thread', undefined],
    ['a worker host', 'pipe'],
  ])('a consumer restarted inside a pipeline (%s) gets its producer’s messages in order, none twice, losses counted', async (_kind, host) => {
    const o = observe({ id: 'root', host, children: [crashy('a'), crashy('b', { input: { from: 'a' } })] });
    await o.runner.start();
    const sent = Array.from({ length: 300 }, (_, i) => `m${i}`);
    for (const [i, m] of sent.entries()) {
      o.runner.deliver('root/a', bytes(m));
      if (i === 100) o.runner.deliver('root/b', bytes('crash'));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await o.waitFor(() => o.texts('root/a').length === sent.length, 'the producer’s outputs');
    await o.waitFor(() => {
      const b = o.runner.health()[1];
      return b.state === 'running' && b.messagesIn === sent.length + 1 && o.texts('root/b').length + b.dropped! === b.messagesIn;
    }, 'the consumer to account for every message');
    const got = o.texts('root/b').map((t) => Number(t.slice(1)));
    expect(got.every((n, i) => i === 0 || n > got[i - 1])).toBe(true);
    expect(got.at(-1)).toBe(299);
    expect(o.runner.health()[1]).toMatchObject({ restarts: 1, messagesIn: 301 });
  });

  it('messages arriving while a child restarts are buffered and delivered after it; overflow is dropped and counted', async () => {
    const o = observe({ id: 'root', children: [crashy('a')] }, { restartBufferSize: 3 });
    await o.runner.start();
    o.runner.deliver('root/a', bytes('crash'));
    await o.event(/child_terminated root a trap/);
    expect(o.runner.health()[0].state).toBe('restarting');
    const accepted = ['m1', 'm2', 'm3', 'm4', 'm5'].map((m) => o.runner.deliver('root/a', bytes(m)));
    expect(accepted).toEqual([true, true, true, false, false]);
    await o.waitFor(() => o.texts('root/a').length === 3, 'the buffered messages');
    expect(o.texts('root/a')).toEqual(['m1', 'm2', 'm3']);
    // The host answers a restart and its first batch in one message: the runner marks the child running first.
    // Dropped: m4 and m5, plus the `crash` message the step did not complete.
    expect(o.runner.health()[0]).toMatchObject({ state: 'running', restarts: 1, dropped: 3 });
  });

  it('simple_one_for_one: start_child and terminate_child run real steps at run time', async () => {
    const o = observe({ id: 'root', children: [{ id: 'pool', supervisor: { strategy: 'simple_one_for_one', children: [crashy('worker')] } }] });
    await o.runner.start();
    await o.runner.startChild({ supervisor: 'root/pool', child: 'w1' });
    await o.runner.startChild({ supervisor: 'root/pool', child: 'w2', output: 'custom' });
    o.runner.deliver('root/pool/w2', bytes('hi'));
    await o.waitFor(() => o.outputs.some((x) => x.topic === 'custom'), 'output of w2');
    await o.runner.terminateChild({ supervisor: 'root/pool', child: 'w1' });
    expect(o.runner.health().map((c) => c.path)).toEqual(['root/pool', 'root/pool/w2']);
    await expect(o.runner.startChild({ supervisor: 'root/pool', child: 'w2' })).rejects.toThrow(/already has a child "w2"/);
  });

  it('apply: a changed step ref is hot-swapped without a restart; an added child starts', async () => {
    const o = observe({ id: 'root', children: [crashy('a')] });
    await o.runner.start();
    const before = o.events.length;
    o.runner.apply({ id: 'root', strategy: 'one_for_one', intensity: 1, period: 5, autoShutdown: 'never', children: [
      { id: 'a', step: 'crashy@2', restart: 'permanent', significant: false, shutdown: 5000, config: {}, output: 'out/a' },
      { id: 'b', step: 'crashy@1', restart: 'permanent', significant: false, shutdown: 5000, config: {}, output: 'out/b' },
    ] });
    await o.event(/child_started root b/, before);
    o.runner.deliver('root/a', bytes('still here'));
    // crashy@2 prefixes its echo with "2": the output proves the new module runs, not just the spec's name for it.
    await o.waitFor(() => o.texts('root/a').includes('2still here'), 'output of the swapped step');
    expect(o.lines().slice(before)).toEqual(['child_started root b']);
    expect(o.runner.health().map((c) => `${c.path}:${c.step}:${c.restarts}`)).toEqual(['root/a:crashy@2:0', 'root/b:crashy@1:0']);
  });

  const onlyA = (step: string) => ({ id: 'root', intensity: 1, period: 5, children: [crashy('a', { step })] });

  it('a failed swap stops the old version and restarts the child with the new step (docs/supervision.md)', async () => {
    const o = observe(onlyA('crashy@1'));
    await o.runner.start();
    const before = o.events.length;
    // broken@1's init fails: the swap fails, so does every start of the new step; intensity 1 then ends the tree.
    o.runner.apply(parseSupervisorSpec(onlyA('broken@1')));
    await o.event(/reached_max_restart_intensity root/, before);
    expect(o.lines().slice(before)).toEqual([
      expect.stringMatching(/^child_terminated root a start_failed:swap to broken@1 failed: .*init returned 7/),
      'child_terminated root a start_failed:init returned 7: missing field', // the restart with the new step, counted; its last line says why
      'reached_max_restart_intensity root',
      expect.stringMatching(/^supervisor_shutdown root/),
    ]);
    // The old version is gone: nothing answers any more.
    expect(o.runner.deliver('root/a', bytes('anyone?'))).toBeFalsy();
    expect(o.texts('root/a')).toEqual([]);
  });

  it('a swap that fails once (module not fetched) ends in a restart of the child running the new step', async () => {
    let fetches = 0;
    const o = observe(onlyA('crashy@1'), {
      resolveStep: (ref: string) => (ref === 'crashy@2' && fetches++ === 0 ? Promise.reject(new Error('fetch failed: 503')) : resolveStep(ref)),
    });
    await o.runner.start();
    const before = o.events.length;
    o.runner.apply(parseSupervisorSpec(onlyA('crashy@2')));
    await o.event(/child_started root a/, before);
    expect(o.lines().slice(before)).toEqual([expect.stringMatching(/^child_terminated root a start_failed:swap to crashy@2 failed: fetch failed: 503/), 'child_started root a']);
    o.runner.deliver('root/a', bytes('new'));
    await o.waitFor(() => o.texts('root/a').includes('2new'), 'output of the new step');
    expect(o.runner.health().map((c) => `${c.path}:${c.step}:${c.restarts}`)).toEqual(['root/a:crashy@2:1']);
  });

  it('workers share the default step host; `host` gives a worker (or a subtree) another one', async () => {
    const own = new StepRuntime();
    const resolve = await loadSteps(own);
    const o = new Observed({ id: 'root', children: [crashy('a'), crashy('b'), { id: 'sub', supervisor: { host: 'side', children: [crashy('c'), crashy('d')] } }, crashy('e', { host: 'solo' })] }, resolve, own);
    await o.runner.start();
    // root/a, root/b in the agent thread; the subtree's host and e's are workers.
    expect(own.hosts()).toEqual({ spawned: 2, hosts: 3, instances: 5 });
    for (const p of ['root/a', 'root/sub/c', 'root/e']) o.runner.deliver(p, bytes(p));
    await o.waitFor(() => o.outputs.length === 3, 'an output from each host');
    await o.runner.stop();
    await own.stop();
  });

  it('keeps recent events in a bounded ring', async () => {
    const o = observe({ id: 'root', intensity: 10, children: [crashy('a')] }, { eventLogSize: 4 });
    await o.runner.start();
    for (let i = 0; i < 3; i++) {
      const n = o.events.length;
      o.runner.deliver('root/a', bytes('crash'));
      await o.event(/child_started root a/, n);
    }
    const recent = o.runner.events();
    expect(recent.map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    expect(recent.at(-1)?.event).toEqual({ type: 'child_started', supervisor: 'root', child: 'a' });
  });
});
