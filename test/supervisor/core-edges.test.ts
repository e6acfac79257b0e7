import { describe, expect, it } from 'vitest';
import { CommandError } from '../../agent/supervisor/core.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { Harness, worker as w } from './harness.js';

// The edges of SupervisorCore's inputs and queries: what it ignores, what it refuses, what health sees. Written
// against the survivors of `npm run test:mutation` (each test names the behaviour, not the mutant).

const started = (children: unknown[], flags: Record<string, unknown> = {}) => {
  const h = new Harness({ id: 'root', ...flags, children }).start();
  h.take();
  return h;
};
const dynamic = (template: unknown = w('t')) => started([{ id: 'pool', supervisor: { strategy: 'simple_one_for_one', intensity: 5, children: [template] } }]);

describe('SupervisorCore: inputs it ignores or refuses', () => {
  it('starting a started tree is refused with a CommandError; stopping a stopped tree decides nothing', () => {
    const h = started([w('a')]);
    expect(() => h.core.start()).toThrow(CommandError);
    expect(() => h.core.start()).toThrow('the tree is already started');
    try {
      h.core.start();
    } catch (err) {
      expect((err as Error).name).toBe('CommandError');
    }
    h.stop();
    h.take();
    expect(h.core.stop()).toEqual([]);
  });

  it('reports for unknown paths, for a supervisor, or for a worker in the wrong state are ignored', () => {
    const h = started([{ id: 's', supervisor: { children: [w('x')] } }, w('a')], { intensity: 5 });
    for (const input of [
      () => h.core.started('root/nope'),
      () => h.core.startFailed('root/nope', 'x'),
      () => h.core.exited('root/nope', 'exit:1'),
      () => h.core.timerFired('root/nope'),
      () => h.core.started('root/s'),
      () => h.core.startFailed('root/s', 'x'),
      () => h.core.exited('root/s', 'exit:1'),
      () => h.core.started('root/a'), // already running
      () => h.core.startFailed('root/a', 'x'), // not starting
      () => h.core.timerFired('root/a'), // no timer armed
    ]) expect(input()).toEqual([]);
    h.exit('root/a', 'exit:1');
    h.take();
    h.stop();
    h.take();
    expect(h.core.exited('root/a', 'exit:1')).toEqual([]); // stopped
  });

  it('a start failure keeps a reason that already says start_failed; an exit while starting is a start failure', () => {
    const h = started([w('a'), w('b')], { intensity: 5 });
    h.manualStart.add('root/a');
    h.exit('root/a', 'exit:1');
    h.take();
    h.manualStart.clear();
    h.drive(() => h.core.startFailed('root/a', 'start_failed:init returned 3'));
    expect(h.events()[0]).toBe('child_terminated root a start_failed:init returned 3');
    h.manualStart.add('root/b');
    h.exit('root/b', 'exit:1');
    h.take();
    h.manualStart.clear();
    h.drive(() => h.core.exited('root/b', 'trap:unreachable'));
    expect(h.events()[0]).toBe('child_terminated root b start_failed:trap:unreachable');
  });

  it('start_child: worker templates take config, input and output; supervisor templates refuse them', () => {
    const h = dynamic(w('t', { input: 'in/#', output: 'o' }));
    h.drive(() => h.core.startChild({ supervisor: 'root/pool', child: 'k', config: { n: 1 }, output: 'p' }));
    expect(h.core.workers()).toEqual([{ path: 'root/pool/k', child: expect.objectContaining({ id: 'k', config: { n: 1 }, input: 'in/#', output: 'p' }) }]);
    const s = dynamic({ id: 'inner', supervisor: { children: [w('x')] } });
    for (const extra of [{ config: { a: 1 } }, { input: 'i' }, { output: 'o' }]) {
      expect(() => s.core.startChild({ supervisor: 'root/pool', child: 'k', ...extra })).toThrow('root/pool: config, input and output apply to worker templates only');
    }
    s.drive(() => s.core.startChild({ supervisor: 'root/pool', child: 'k' }));
    expect(s.core.snapshot().map((c) => `${c.path}:${c.kind}:${c.state}`)).toEqual(['root/pool:supervisor:running', 'root/pool/k:supervisor:running', 'root/pool/k/x:worker:running']);
  });

  it('start_child/terminate_child name what is wrong: no supervisor, wrong strategy, not running', () => {
    const h = dynamic();
    expect(() => h.core.startChild({ supervisor: 'root/nope', child: 'k' })).toThrow('no supervisor at root/nope');
    expect(() => h.core.startChild({ supervisor: 'root/pool/t', child: 'k' })).toThrow('no supervisor at root/pool/t');
    expect(() => h.core.terminateChild({ supervisor: 'root', child: 'pool' })).toThrow('root is one_for_one; start_child/terminate_child need simple_one_for_one');
    expect(() => h.core.terminateChild({ supervisor: 'root/pool', child: 'k' })).toThrow('root/pool has no child "k"');
    h.stop();
    expect(() => h.core.startChild({ supervisor: 'root/pool', child: 'k' })).toThrow('root/pool is not running');
  });

  it('terminate_child twice while busy stops the child once', () => {
    const h = dynamic();
    h.drive(() => h.core.startChild({ supervisor: 'root/pool', child: 'k' }));
    h.manualStart.add('root/pool/m');
    h.drive(() => h.core.startChild({ supervisor: 'root/pool', child: 'm' }));
    h.take();
    h.drive(() => h.core.terminateChild({ supervisor: 'root/pool', child: 'k' }));
    h.drive(() => h.core.terminateChild({ supervisor: 'root/pool', child: 'k' }));
    h.drive(() => h.core.started('root/pool/m'));
    expect(h.take().filter((l) => l.startsWith('stop '))).toEqual(['stop root/pool/k']);
    expect(h.core.phase('root/pool/k')).toBeUndefined();
  });

  it('a new root applied to a stopped tree replaces it without starting anything', () => {
    const h = new Harness({ id: 'root', children: [w('a')] });
    expect(h.core.apply(parseSupervisorSpec({ id: 'other', children: [w('z')] }))).toEqual([]);
    expect(h.core.rootPath).toBe('other');
    expect(h.core.status).toBe('stopped');
    h.start();
    expect(h.events()).toEqual(['child_started other z']);
  });

  it('a spec applied to a stopped tree applies at the next start', () => {
    const h = new Harness({ id: 'root', children: [w('a')] });
    expect(h.core.apply(parseSupervisorSpec({ id: 'root', children: [w('a'), w('b')] }))).toEqual([]);
    h.start();
    expect(h.events()).toEqual(['child_started root a', 'child_started root b']);
  });
});

describe('SupervisorCore: what health sees', () => {
  it('phase: undefined for the root and unknown paths; starting, running, restarting as a group restart goes', () => {
    const h = started([w('a'), w('b'), w('c')], { strategy: 'one_for_all', intensity: 5 });
    expect(h.core.phase('root')).toBeUndefined();
    expect(h.core.phase('root/zz')).toBeUndefined();
    expect(h.core.phase('root/a')).toBe('running');
    h.manualStart.add('root/a');
    h.exit('root/c', 'exit:1');
    // a is being restarted; b and c wait in the start list, after having run before.
    expect(['a', 'b', 'c'].map((id) => h.core.phase(`root/${id}`))).toEqual(['restarting', 'restarting', 'restarting']);
    h.manualStart.clear();
    h.drive(() => h.core.started('root/a'));
    expect(['a', 'b', 'c'].map((id) => h.core.phase(`root/${id}`))).toEqual(['running', 'running', 'running']);
  });

  it('phase while the tree first starts: the child being started and those queued are starting', () => {
    const h = new Harness({ id: 'root', children: [w('a'), w('b')] });
    h.manualStart.add('root/a');
    h.start();
    expect([h.core.phase('root/a'), h.core.phase('root/b')]).toEqual(['starting', 'starting']);
    h.manualStart.clear();
    h.drive(() => h.core.started('root/a'));
    expect([h.core.phase('root/a'), h.core.phase('root/b')]).toEqual(['running', 'running']);
    h.stop();
    expect(h.core.phase('root/a')).toBe('stopped');
  });

  it('workers lists every worker depth first with the spec it runs; snapshot names steps of workers only', () => {
    const h = started([w('a'), { id: 's', supervisor: { children: [w('x'), w('y')] } }, w('b')]);
    expect(h.core.workers().map((x) => `${x.path}:${x.child.step}`)).toEqual(['root/a:a@1.0.0', 'root/s/x:x@1.0.0', 'root/s/y:y@1.0.0', 'root/b:b@1.0.0']);
    const snap = h.core.snapshot();
    expect(snap.find((c) => c.path === 'root/s')).toEqual({ path: 'root/s', kind: 'supervisor', state: 'running', restarts: 0 });
    expect(snap.find((c) => c.path === 'root/s/x')).toEqual({ path: 'root/s/x', kind: 'worker', state: 'running', restarts: 0, step: 'x@1.0.0' });
  });

  it('children that are gone are gone from every query: a temporary child, a removed child, a restarted subtree', () => {
    const h = started([w('tmp', { restart: 'temporary' }), w('a'), { id: 's', supervisor: { intensity: 0, children: [w('x')] } }], { intensity: 5 });
    h.exit('root/tmp', 'exit:1');
    expect(h.core.phase('root/tmp')).toBeUndefined();
    h.drive(() => h.core.apply(parseSupervisorSpec({ id: 'root', intensity: 5, children: [{ id: 's', supervisor: { intensity: 0, children: [w('x')] } }] })));
    expect(h.core.phase('root/a')).toBeUndefined();
    expect(h.core.workers().map((x) => x.path)).toEqual(['root/s/x']);
    // The nested supervisor gives up and is restarted with fresh children: the old x is forgotten, the new one runs.
    h.exit('root/s/x', 'exit:1');
    expect(h.core.phase('root/s/x')).toBe('running');
    expect(h.core.snapshot().map((c) => `${c.path}:${c.restarts}`)).toEqual(['root/s:1', 'root/s/x:1']);
  });
});

describe('SupervisorCore: exits while busy', () => {
  it('a late exit of an old incarnation is ignored: the child was restarted meanwhile', () => {
    const h = started([w('a'), w('b'), w('c')], { strategy: 'one_for_all', intensity: 5 });
    h.manualStart.add('root/b');
    h.exit('root/c', 'exit:1'); // group restart: a started again, b starting (answered below), c waits
    h.exit('root/a', 'exit:2'); // a exits while the supervisor is busy: handled when idle...
    h.take();
    h.manualStart.clear();
    // ...but b fails to start, so a second group restart starts a again before the supervisor is idle.
    h.drive(() => h.core.startFailed('root/b', 'boom'));
    expect(h.events()).toEqual(['child_terminated root b start_failed:boom', 'child_started root a', 'child_started root b', 'child_started root c']);
    // The old incarnation's exit caused no third restart.
    expect(h.core.snapshot().map((c) => `${c.path}:${c.restarts}`)).toEqual(['root/a:2', 'root/b:2', 'root/c:1']);
  });

  it('a non-significant child exiting under any_significant does not shut the supervisor down', () => {
    const h = started([w('t', { restart: 'temporary' }), w('sig', { restart: 'transient', significant: true })], { autoShutdown: 'any_significant' });
    h.exit('root/t', 'normal');
    expect(h.events()).toEqual(['child_terminated root t normal']);
    expect(h.core.status).toBe('running');
  });

  it('simple_one_for_one past its intensity: the pool shuts down and forgets the child that exited', () => {
    const h = started([{ id: 'pool', supervisor: { strategy: 'simple_one_for_one', intensity: 0, children: [w('t')] } }], { intensity: 5 });
    h.drive(() => h.core.startChild({ supervisor: 'root/pool', child: 'k' }));
    h.take();
    h.exit('root/pool/k', 'exit:1');
    expect(h.events()).toEqual([
      'child_terminated root/pool k exit:1',
      'reached_max_restart_intensity root/pool',
      'supervisor_shutdown root/pool shutdown',
      'child_terminated root pool shutdown',
      'child_started root pool',
    ]);
    expect(h.core.phase('root/pool/k')).toBeUndefined();
  });
});
