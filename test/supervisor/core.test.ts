import { describe, expect, it } from 'vitest';
import { CommandError } from '../../agent/supervisor/core.js';
import { Harness, worker } from './harness.js';

// Mirrors the groups of OTP's lib/stdlib/test/supervisor_SUITE.erl where they apply to Flotilla.

const w = worker;
const sup = (id: string, flags: Record<string, unknown>, children: unknown[], extra: Record<string, unknown> = {}) => ({
  id,
  supervisor: { ...flags, children },
  ...extra,
});

describe('sup_start', () => {
  it('sup_start_normal: children start one by one in order of the child specs', () => {
    const h = new Harness({ id: 'root', children: [w('a'), w('b'), w('c')] }).start();
    expect(h.take()).toEqual([
      'start root/a', 'child_started root a',
      'start root/b', 'child_started root b',
      'start root/c', 'child_started root c',
    ]);
    expect(h.core.status).toBe('running');
  });

  it('sup_start_fail_nth_child: a failed start stops the children already started in reverse order and fails the supervisor start', () => {
    const h = new Harness({ id: 'root', children: [w('a'), w('b'), w('c'), w('d')] });
    h.failStart.set('root/c', 'trap:unreachable');
    h.start();
    expect(h.take()).toEqual([
      'start root/a', 'child_started root a',
      'start root/b', 'child_started root b',
      'start root/c', 'child_terminated root c start_failed:trap:unreachable',
      'stop root/b', 'set_timer root/b 5000', 'clear_timer root/b', 'child_terminated root b shutdown',
      'stop root/a', 'set_timer root/a 5000', 'clear_timer root/a', 'child_terminated root a shutdown',
      'supervisor_shutdown root start_failed:c: start_failed:trap:unreachable',
    ]);
    expect(h.core.status).toBe('stopped');
  });

  it('sup_start_fail_nth_child in a nested supervisor fails the parent start too', () => {
    const h = new Harness({ id: 'root', children: [w('a'), sup('s', {}, [w('x'), w('y')])] });
    h.failStart.set('root/s/y', 'exit:3');
    h.start();
    expect(h.events()).toEqual([
      'child_started root a',
      'child_started root/s x',
      'child_terminated root/s y start_failed:exit:3',
      'child_terminated root/s x shutdown',
      'supervisor_shutdown root/s start_failed:y: start_failed:exit:3',
      'child_terminated root s start_failed:y: start_failed:exit:3',
      'child_terminated root a shutdown',
      'supervisor_shutdown root start_failed:s: start_failed:y: start_failed:exit:3',
    ]);
    expect(h.running.size).toBe(0);
  });

  it('sup_start_empty: a supervisor without children starts at once', () => {
    const h = new Harness({ id: 'root', children: [sup('s', {}, [])] }).start();
    expect(h.events()).toEqual(['child_started root s']);
  });
});

describe('sup_stop', () => {
  const tree = (shutdown: unknown) => new Harness({ id: 'root', children: [w('a'), w('b', { shutdown })] }).start();

  it('sup_stop_infinity: the supervisor waits for the child however long it takes', () => {
    const h = tree('infinity');
    h.hang.add('root/b');
    h.take();
    h.stop();
    expect(h.take()).toEqual(['stop root/b']);
    expect(h.timers.size).toBe(0);
    h.drive(() => h.core.exited('root/b', 'shutdown'));
    expect(h.take()).toEqual([
      'child_terminated root b shutdown',
      'stop root/a', 'set_timer root/a 5000', 'clear_timer root/a', 'child_terminated root a shutdown',
      'supervisor_shutdown root shutdown',
    ]);
  });

  it('sup_stop_timeout: a child that does not stop within its shutdown time is killed', () => {
    const h = tree(300);
    h.hang.add('root/b');
    h.take();
    h.stop();
    expect(h.take()).toEqual(['stop root/b', 'set_timer root/b 300']);
    h.fireTimer('root/b');
    expect(h.take()).toEqual([
      'kill root/b', 'child_terminated root b killed',
      'stop root/a', 'set_timer root/a 5000', 'clear_timer root/a', 'child_terminated root a shutdown',
      'supervisor_shutdown root shutdown',
    ]);
    expect(h.core.status).toBe('stopped');
  });

  it('sup_stop_brutal_kill: brutal_kill kills the child at once, without asking', () => {
    const h = tree('brutal_kill');
    h.take();
    h.stop();
    expect(h.take().slice(0, 2)).toEqual(['kill root/b', 'child_terminated root b killed']);
  });

  it('sup_stop of a nested supervisor with a shutdown time kills its whole subtree when the time runs out', () => {
    const h = new Harness({ id: 'root', children: [sup('s', {}, [w('x'), w('y')], { shutdown: 100 })] }).start();
    h.hang.add('root/s/y');
    h.take();
    h.stop();
    expect(h.take()).toEqual(['set_timer root/s 100', 'stop root/s/y', 'set_timer root/s/y 5000']);
    h.fireTimer('root/s');
    expect(h.take()).toEqual([
      'kill root/s/y', 'clear_timer root/s/y', 'child_terminated root/s y killed',
      'kill root/s/x', 'child_terminated root/s x killed',
      'supervisor_shutdown root/s killed', 'child_terminated root s killed',
      'supervisor_shutdown root shutdown',
    ]);
    expect(h.running.size).toBe(0);
  });

  it('a stop during the start waits until the start is done', () => {
    const h = new Harness({ id: 'root', children: [w('a'), w('b')] });
    h.manualStart.add('root/a');
    h.start().stop();
    expect(h.take()).toEqual(['start root/a']);
    h.running.add('root/a');
    h.drive(() => h.core.started('root/a'));
    expect(h.events()).toEqual([
      'child_started root a', 'child_started root b',
      'child_terminated root b shutdown', 'child_terminated root a shutdown', 'supervisor_shutdown root shutdown',
    ]);
  });
});

/** Restart types × exit reasons × strategies: whether the exited child is started again. */
describe('restart types × exit reasons × strategies', () => {
  const strategies = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'] as const;
  const cases: [restart: string, reason: string, restarted: boolean][] = [
    ['permanent', 'normal', true],
    ['permanent', 'shutdown', true],
    ['permanent', 'trap:unreachable', true],
    ['transient', 'normal', false],
    ['transient', 'shutdown', false],
    ['transient', 'shutdown:maintenance', false],
    ['transient', 'killed', true],
    ['transient', 'exit:1', true],
    ['transient', 'trap:out of bounds', true],
    ['transient', 'timeout', true],
    ['transient', 'output_limit', true],
    ['temporary', 'normal', false],
    ['temporary', 'trap:unreachable', false],
  ];
  for (const strategy of strategies) {
    for (const [restart, reason, restarted] of cases) {
      // OTP: a permanent child is always restarted; a transient one only after an abnormal exit; a temporary never.
      it(`${strategy}: ${restart} child, exit ${reason}: ${restarted ? 'restarted' : 'not restarted'}`, () => {
        const h = new Harness({
          id: 'root',
          strategy,
          intensity: 5,
          children: strategy === 'simple_one_for_one' ? [w('t', { restart })] : [w('a'), w('t', { restart })],
        }).start();
        if (strategy === 'simple_one_for_one') h.drive(() => h.core.startChild({ supervisor: 'root', child: 't' }));
        h.take();
        h.exit('root/t', reason);
        const log = h.take();
        expect(log.includes('start root/t')).toBe(restarted);
        expect(h.running.has('root/t')).toBe(restarted);
        const kept = h.core.snapshot().some((c) => c.path === 'root/t');
        // OTP: temporary children are deleted on exit; so are simple_one_for_one children that are not restarted.
        expect(kept).toBe(restarted || (restart === 'transient' && strategy !== 'simple_one_for_one'));
      });
    }
  }

  it('one_for_all: all other children are stopped in reverse start order, then all started in start order', () => {
    const h = new Harness({ id: 'root', strategy: 'one_for_all', children: [w('a'), w('b'), w('c'), w('d')] }).start();
    h.take();
    h.exit('root/b', 'exit:1');
    expect(h.take().filter((l) => /^(start|stop) /.test(l))).toEqual([
      'stop root/d', 'stop root/c', 'stop root/a', 'start root/a', 'start root/b', 'start root/c', 'start root/d',
    ]);
  });

  it('rest_for_one: the children after the exited one are stopped in reverse, then it and they start in order', () => {
    const h = new Harness({ id: 'root', strategy: 'rest_for_one', children: [w('a'), w('b'), w('c'), w('d')] }).start();
    h.take();
    h.exit('root/b', 'exit:1');
    expect(h.take().filter((l) => /^(start|stop) /.test(l))).toEqual([
      'stop root/d', 'stop root/c', 'start root/b', 'start root/c', 'start root/d',
    ]);
  });

  it('one_for_all: a transient child that exited normally earlier is started again with the group (OTP keeps its spec)', () => {
    const h = new Harness({ id: 'root', strategy: 'one_for_all', children: [w('a', { restart: 'transient' }), w('b')] }).start();
    h.exit('root/a', 'normal');
    h.take();
    h.exit('root/b', 'exit:1');
    expect(h.take().filter((l) => l.startsWith('start '))).toEqual(['start root/a', 'start root/b']);
  });

  it('a child that dies while its group is being stopped counts as stopped, and the group restart counts as one restart', () => {
    const h = new Harness({ id: 'root', strategy: 'one_for_all', intensity: 1, children: [w('a'), w('b'), w('c')] }).start();
    h.hang.add('root/c');
    h.take();
    h.exit('root/a', 'exit:1');
    expect(h.take()).toEqual(['child_terminated root a exit:1', 'stop root/c', 'set_timer root/c 5000']);
    h.exit('root/b', 'exit:2');
    h.hang.delete('root/c');
    h.running.delete('root/c');
    h.drive(() => h.core.exited('root/c', 'shutdown'));
    expect(h.take()).toEqual([
      'child_terminated root b exit:2',
      'clear_timer root/c', 'child_terminated root c shutdown',
      'start root/a', 'child_started root a', 'start root/b', 'child_started root b', 'start root/c', 'child_started root c',
    ]);
    expect(h.core.status).toBe('running');
  });

  it('an exit during a restart waits in the mailbox and is handled as a new restart afterwards', () => {
    const h = new Harness({ id: 'root', strategy: 'one_for_one', intensity: 5, children: [w('a'), w('b')] }).start();
    h.manualStart.add('root/b');
    h.exit('root/b', 'exit:1');
    h.take();
    h.exit('root/a', 'exit:2');
    expect(h.take()).toEqual(['child_terminated root a exit:2']);
    h.running.add('root/b');
    h.drive(() => h.core.started('root/b'));
    expect(h.take()).toEqual(['child_started root b', 'start root/a', 'child_started root a']);
  });

  it('a restart whose start fails is retried as another restart and counts toward the intensity', () => {
    const h = new Harness({ id: 'root', intensity: 2, period: 5, children: [w('a')] }).start();
    h.failStart.set('root/a', 'trap:boom');
    h.take();
    h.exit('root/a', 'exit:1');
    expect(h.events()).toEqual([
      'child_terminated root a exit:1',
      'child_terminated root a start_failed:trap:boom',
      'child_started root a',
    ]);
    h.failStart.set('root/a', 'trap:boom');
    h.exit('root/a', 'exit:1');
    expect(h.events()).toEqual([
      'child_terminated root a exit:1',
      'reached_max_restart_intensity root',
      'supervisor_shutdown root shutdown',
    ]);
  });
});

describe('restart intensity', () => {
  it('multiple_restarts: with intensity 1 and period 1, a second restart in the same or the next second ends the supervisor', () => {
    const h = new Harness({ id: 'root', intensity: 1, period: 1, children: [w('a'), w('b')] }).start();
    h.now = 900;
    h.exit('root/a', 'exit:1');
    expect(h.running.has('root/a')).toBe(true);
    // OTP: timestamps are whole seconds and kept while >= Now - Period: seconds 0 and 1 are both within the window.
    h.now = 1100;
    h.take();
    h.exit('root/a', 'exit:1');
    expect(h.events()).toEqual([
      'child_terminated root a exit:1',
      'reached_max_restart_intensity root',
      'child_terminated root b shutdown',
      'supervisor_shutdown root shutdown',
    ]);
  });

  it('multiple_restarts: restarts further apart than the period never reach the intensity', () => {
    const h = new Harness({ id: 'root', intensity: 1, period: 1, children: [w('a')] }).start();
    for (let i = 0; i < 10; i++) {
      h.now = i * 2000;
      h.exit('root/a', 'exit:1');
    }
    expect(h.events().filter((l) => l.startsWith('reached_max'))).toEqual([]);
    expect(h.core.snapshot()).toEqual([{ path: 'root/a', kind: 'worker', state: 'running', restarts: 10, step: 'a@1.0.0' }]);
  });

  it('intensity 0: the first restart already ends the supervisor', () => {
    const h = new Harness({ id: 'root', intensity: 0, children: [w('a')] }).start();
    h.take();
    h.exit('root/a', 'normal');
    expect(h.events()).toEqual(['child_terminated root a normal', 'reached_max_restart_intensity root', 'supervisor_shutdown root shutdown']);
  });

  it('exits that cause no restart are not counted toward the intensity', () => {
    const h = new Harness({
      id: 'root',
      intensity: 1,
      children: [w('a'), w('t1', { restart: 'temporary' }), w('t2', { restart: 'transient' }), w('t3', { restart: 'temporary' })],
    }).start();
    h.exit('root/t1', 'exit:1');
    h.exit('root/t2', 'normal');
    h.exit('root/t3', 'shutdown');
    h.exit('root/a', 'exit:1');
    expect(h.core.status).toBe('running');
  });
});

describe('escalation', () => {
  // OTP: a supervisor that exits is, to its parent, a child that exited; the parent applies its own strategy.
  for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const) {
    it(`${strategy}_escalation: a nested supervisor past its intensity exits with shutdown and its parent restarts it`, () => {
      const h = new Harness({
        id: 'root',
        intensity: 3,
        children: [w('a'), sup('s', { strategy, intensity: 0 }, [w('x'), w('y')]), w('b')],
      }).start();
      h.take();
      h.exit('root/s/x', 'exit:1');
      expect(h.events()).toEqual([
        'child_terminated root/s x exit:1',
        'reached_max_restart_intensity root/s',
        'child_terminated root/s y shutdown',
        'supervisor_shutdown root/s shutdown',
        'child_terminated root s shutdown',
        'child_started root/s x',
        'child_started root/s y',
        'child_started root s',
      ]);
    });
  }

  it('simple_one_for_one_escalation: a dynamic supervisor past its intensity takes its children down and is restarted empty', () => {
    const h = new Harness({
      id: 'root',
      children: [sup('pool', { strategy: 'simple_one_for_one', intensity: 0 }, [w('conn')])],
    }).start();
    h.drive(() => h.core.startChild({ supervisor: 'root/pool', child: 'c1' }));
    h.drive(() => h.core.startChild({ supervisor: 'root/pool', child: 'c2' }));
    h.take();
    h.exit('root/pool/c1', 'trap:x');
    expect(h.events()).toEqual([
      'child_terminated root/pool c1 trap:x',
      'reached_max_restart_intensity root/pool',
      'child_terminated root/pool c2 shutdown',
      'supervisor_shutdown root/pool shutdown',
      'child_terminated root pool shutdown',
      'child_started root pool',
    ]);
    expect(h.core.snapshot().map((c) => c.path)).toEqual(['root/pool']);
  });

  it('a transient supervisor that gave up is not restarted: its exit reason is shutdown, a clean exit', () => {
    const h = new Harness({ id: 'root', children: [sup('s', { intensity: 0 }, [w('x')], { restart: 'transient' })] }).start();
    h.take();
    h.exit('root/s/x', 'exit:1');
    expect(h.events().slice(-2)).toEqual(['supervisor_shutdown root/s shutdown', 'child_terminated root s shutdown']);
    expect(h.core.snapshot().find((c) => c.path === 'root/s')?.state).toBe('stopped');
  });

  it('nested limits multiply: the root gives up only after its own intensity of subtree restarts', () => {
    const h = new Harness({ id: 'root', intensity: 1, children: [sup('s', { intensity: 1 }, [w('x')])] }).start();
    const crash = () => h.exit('root/s/x', 'exit:1');
    crash(); // s restarts x (1 of 1)
    crash(); // s gives up; root restarts s (1 of 1)
    crash(); // fresh s restarts x
    expect(h.core.status).toBe('running');
    crash(); // s gives up again; root gives up
    expect(h.core.status).toBe('stopped');
    expect(h.events().filter((l) => l.startsWith('reached_max'))).toEqual([
      'reached_max_restart_intensity root/s',
      'reached_max_restart_intensity root/s',
      'reached_max_restart_intensity root',
    ]);
  });
});

describe('temporary_bystander', () => {
  // OTP: temporary children are never restarted, even in a one_for_all or rest_for_one group restart.
  for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
    it(`${strategy}: temporary children stopped by a group restart are removed, not restarted`, () => {
      const h = new Harness({ id: 'root', strategy, children: [w('a'), w('tmp', { restart: 'temporary' }), w('b')] }).start();
      h.take();
      h.exit('root/a', 'exit:1');
      const log = h.take();
      expect(log).toContain('child_terminated root tmp shutdown');
      expect(log.filter((l) => l.startsWith('start '))).toEqual(['start root/a', 'start root/b']);
      expect(h.core.snapshot().map((c) => c.path)).toEqual(['root/a', 'root/b']);
    });
  }
});

describe('order_of_children', () => {
  it('children start in spec order and stop in reverse start order, depth first', () => {
    const h = new Harness({ id: 'root', children: [w('a'), sup('s', {}, [w('x'), w('y')]), w('b')] }).start();
    expect(h.take().filter((l) => l.startsWith('start '))).toEqual(['start root/a', 'start root/s/x', 'start root/s/y', 'start root/b']);
    h.stop();
    expect(h.take().filter((l) => l.startsWith('stop '))).toEqual(['stop root/b', 'stop root/s/y', 'stop root/s/x', 'stop root/a']);
  });

  it('restarted children keep their place in the start order', () => {
    const h = new Harness({ id: 'root', intensity: 5, children: [w('a'), w('b'), w('c')] }).start();
    h.exit('root/a', 'exit:1');
    h.take();
    h.stop();
    expect(h.take().filter((l) => l.startsWith('stop '))).toEqual(['stop root/c', 'stop root/b', 'stop root/a']);
  });
});

describe('count_restarting_children', () => {
  it('children being restarted report restarting, and restart counts add up', () => {
    const h = new Harness({ id: 'root', strategy: 'one_for_all', intensity: 5, children: [w('a'), w('b'), w('c')] }).start();
    h.manualStart.add('root/a');
    h.exit('root/b', 'exit:1');
    expect(h.core.snapshot().map((c) => `${c.path}:${c.state}:${c.restarts}`)).toEqual([
      'root/a:restarting:1',
      'root/b:restarting:0',
      'root/c:restarting:0',
    ]);
    h.running.add('root/a');
    h.drive(() => h.core.started('root/a'));
    expect(h.core.snapshot().map((c) => `${c.path}:${c.state}:${c.restarts}`)).toEqual([
      'root/a:running:1',
      'root/b:running:1',
      'root/c:running:1',
    ]);
  });
});

describe('significant children', () => {
  const tree = (autoShutdown: string, children: unknown[]) =>
    new Harness({ id: 'root', children: [sup('s', { autoShutdown }, children), w('other')] }).start();

  it('significant_temporary (any_significant): a significant temporary child exiting by itself shuts the supervisor down', () => {
    const h = tree('any_significant', [w('x', { restart: 'temporary', significant: true }), w('y')]);
    h.take();
    h.exit('root/s/x', 'normal');
    expect(h.events()).toEqual([
      'child_terminated root/s x normal',
      'child_terminated root/s y shutdown',
      'supervisor_shutdown root/s shutdown',
      'child_terminated root s shutdown',
      'child_started root/s x',
      'child_started root/s y',
      'child_started root s',
    ]);
  });

  it('significant_transient (any_significant): an abnormal exit restarts it; a normal exit shuts the supervisor down', () => {
    const h = tree('any_significant', [w('x', { restart: 'transient', significant: true })]);
    h.take();
    h.exit('root/s/x', 'exit:1');
    expect(h.events()).toEqual(['child_terminated root/s x exit:1', 'child_started root/s x']);
    h.exit('root/s/x', 'normal');
    expect(h.events()).toContain('supervisor_shutdown root/s shutdown');
  });

  it('significant (all_significant): the supervisor shuts down only when no significant child is left', () => {
    const h = tree('all_significant', [
      w('x', { restart: 'transient', significant: true }),
      w('y', { restart: 'temporary', significant: true }),
      w('z'),
    ]);
    h.take();
    h.exit('root/s/x', 'shutdown');
    expect(h.events()).toEqual(['child_terminated root/s x shutdown']);
    h.exit('root/s/y', 'exit:9');
    expect(h.events()).toEqual([
      'child_terminated root/s y exit:9',
      'child_terminated root/s z shutdown',
      'supervisor_shutdown root/s shutdown',
      'child_terminated root s shutdown',
      'child_started root/s x',
      'child_started root/s y',
      'child_started root/s z',
      'child_started root s',
    ]);
  });

  it('significant_bystander: a significant child stopped by a group restart is not a self-exit and shuts nothing down', () => {
    const h = new Harness({
      id: 'root',
      strategy: 'one_for_all',
      autoShutdown: 'any_significant',
      children: [w('a'), w('sig', { restart: 'temporary', significant: true })],
    }).start();
    h.take();
    h.exit('root/a', 'exit:1');
    expect(h.events()).toEqual(['child_terminated root a exit:1', 'child_terminated root sig shutdown', 'child_started root a']);
    expect(h.core.status).toBe('running');
  });

  it('significant_simple: a simple_one_for_one template may be significant', () => {
    const h = new Harness({
      id: 'root',
      strategy: 'simple_one_for_one',
      autoShutdown: 'any_significant',
      children: [w('job', { restart: 'transient', significant: true })],
    }).start();
    h.drive(() => h.core.startChild({ supervisor: 'root', child: 'j1' }));
    h.drive(() => h.core.startChild({ supervisor: 'root', child: 'j2' }));
    h.take();
    h.exit('root/j2', 'normal');
    expect(h.events()).toEqual([
      'child_terminated root j2 normal',
      'child_terminated root j1 shutdown',
      'supervisor_shutdown root shutdown',
    ]);
  });

  it('significant_escalation: an auto-shutdown of a significant nested supervisor cascades to its parent', () => {
    const h = new Harness({
      id: 'root',
      autoShutdown: 'any_significant',
      children: [w('a'), sup('s', { autoShutdown: 'any_significant' }, [w('x', { restart: 'transient', significant: true })], { restart: 'transient', significant: true })],
    }).start();
    h.take();
    h.exit('root/s/x', 'normal');
    expect(h.events()).toEqual([
      'child_terminated root/s x normal',
      'supervisor_shutdown root/s shutdown',
      'child_terminated root s shutdown',
      'child_terminated root a shutdown',
      'supervisor_shutdown root shutdown',
    ]);
  });
});

describe('simple_one_for_one commands', () => {
  const pool = () => new Harness({ id: 'root', strategy: 'simple_one_for_one', intensity: 5, children: [w('conn', { config: { port: 1 } })] }).start();

  it('start_child starts a child from the template with its own id and config; terminate_child stops and forgets it', () => {
    const h = pool();
    const starts: unknown[] = [];
    const d = h.core.startChild({ supervisor: 'root', child: 'c1', config: { port: 2 } });
    starts.push(...d.filter((x) => x.type === 'start').map((x) => (x.type === 'start' ? x.child : null)));
    expect(starts).toEqual([expect.objectContaining({ id: 'c1', step: 'conn@1.0.0', config: { port: 2 } })]);
    h.drive(() => d);
    h.drive(() => h.core.terminateChild({ supervisor: 'root', child: 'c1' }));
    expect(h.core.snapshot()).toEqual([]);
  });

  it('start_child whose start fails leaves no child behind and is not restarted', () => {
    const h = pool();
    h.failStart.set('root/c1', 'trap:bad config');
    h.drive(() => h.core.startChild({ supervisor: 'root', child: 'c1' }));
    expect(h.events()).toEqual(['child_terminated root c1 start_failed:trap:bad config']);
    expect(h.core.snapshot()).toEqual([]);
  });

  it('refuses commands to a missing or non-dynamic supervisor and duplicate ids', () => {
    const h = pool();
    h.drive(() => h.core.startChild({ supervisor: 'root', child: 'c1' }));
    expect(() => h.core.startChild({ supervisor: 'root', child: 'c1' })).toThrow(/already has a child "c1"/);
    expect(() => h.core.startChild({ supervisor: 'nope', child: 'c2' })).toThrow(CommandError);
    expect(() => h.core.terminateChild({ supervisor: 'root', child: 'c9' })).toThrow(/no child "c9"/);
    const fixed = new Harness({ id: 'root', children: [w('a')] }).start();
    expect(() => fixed.core.startChild({ supervisor: 'root', child: 'b' })).toThrow(/need simple_one_for_one/);
  });

  it('dynamic children are stopped when their supervisor stops', () => {
    const h = pool();
    for (const id of ['c1', 'c2', 'c3']) h.drive(() => h.core.startChild({ supervisor: 'root', child: id }));
    h.take();
    h.stop();
    expect(h.take().filter((l) => l.startsWith('stop '))).toEqual(['stop root/c3', 'stop root/c2', 'stop root/c1']);
  });
});
