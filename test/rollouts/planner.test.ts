import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CommandError } from '../../coordinator/rollouts/planner.js';
import { planWaves } from '../../coordinator/rollouts/waves.js';
import { Fleet, NEW, type Behaviour } from '../../bench/sim/rollout-fleet.js';

const byState = (f: Fleet) => {
  const out: Record<string, string[]> = {};
  for (const d of f.planner.status().devices) (out[d.state] ??= []).push(d.id);
  return out;
};

describe('wave plan: canary in one cluster, then waves taking whole clusters in order', () => {
  it('fills the canary cluster first, then the next cluster, never a few devices everywhere', () => {
    const plan = planWaves(
      [
        { cluster: 'a', selected: 4 },
        { cluster: 'b', selected: 4 },
        { cluster: 'c', selected: 2 },
      ],
      { count: 2 },
      [30, 60, 100],
    );
    expect(plan.sizes).toEqual([2, 1, 3, 4]);
    expect(plan.clusters).toEqual([
      { cluster: 'a', quotas: [2, 3, 4, 4] },
      { cluster: 'b', quotas: [0, 0, 2, 4] },
      { cluster: 'c', quotas: [0, 0, 0, 2] },
    ]);
  });

  it('puts the canary in the first cluster large enough for it, and that cluster first', () => {
    const plan = planWaves(
      [
        { cluster: 'a', selected: 1 },
        { cluster: 'b', selected: 5 },
      ],
      { percent: 50 },
      [100],
    );
    expect(plan.clusters).toEqual([
      { cluster: 'b', quotas: [3, 5] },
      { cluster: 'a', quotas: [0, 1] },
    ]);
    // No cluster is large enough: the canary spreads in order.
    expect(planWaves([{ cluster: 'a', selected: 1 }, { cluster: 'b', selected: 1 }], { count: 2 }, [100]).clusters.map((c) => c.quotas)).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });

  it('a percentage canary is at least one device; a count larger than the fleet is the fleet', () => {
    expect(planWaves([{ cluster: 'a', selected: 30 }], { percent: 1 }, [100]).sizes).toEqual([1, 29]);
    expect(planWaves([{ cluster: 'a', selected: 3 }], { count: 10 }, [50, 100]).sizes).toEqual([3, 0, 0]);
    expect(planWaves([], { count: 1 }, [100]).sizes).toEqual([0, 0]);
  });
});

describe('rollout planner: canary, waves, gates (fake clock, no sockets)', () => {
  it('a healthy change completes through canary and waves, one cluster at a time', () => {
    const f = new Fleet({ clusters: { paris: 3, berlin: 3 }, waves: [50, 100] }).start();
    expect(f.take()).toEqual([
      'state running: canary running',
      'order paris wave=0 quota=1 run',
      'order berlin wave=0 quota=0 run',
      'apply paris-1',
      'state running: wave 1 running',
      'order paris wave=1 quota=3 run',
      'order berlin wave=1 quota=0 run',
      'apply paris-2',
      'apply paris-3',
      'state running: wave 2 running',
      'order paris wave=2 quota=3 run',
      'order berlin wave=2 quota=3 run',
      'apply berlin-1',
      'apply berlin-2',
      'apply berlin-3',
      'state succeeded: 6 of 6 devices healthy',
      'order paris wave=2 quota=3 end',
      'order berlin wave=2 quota=3 end',
    ]);
    expect(f.planner.status()).toMatchObject({
      state: 'succeeded',
      waves: [
        { index: 0, state: 'passed', devices: 1, passed: 1, failed: 0 },
        { index: 1, state: 'passed', devices: 2, passed: 2, failed: 0 },
        { index: 2, state: 'passed', devices: 3, passed: 3, failed: 0 },
      ],
    });
    expect(byState(f)).toEqual({ healthy: ['paris-1', 'paris-2', 'paris-3', 'berlin-1', 'berlin-2', 'berlin-3'] });
    expect(f.planner.status().devices[0]).toEqual({ id: 'paris-1', state: 'healthy', wave: 0, revision: NEW });
  });

  it('a device passes only after its soak time, and the next wave waits for it', () => {
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], gates: { soakMs: 30_000 } }).start();
    expect(f.take()).toContain('apply a-1');
    expect(f.planner.status().devices[0]).toMatchObject({ state: 'updating', reason: expect.stringMatching(/^soaking until /) });
    f.advance(29_999);
    expect(f.take()).not.toContain('apply a-2');
    f.advance(1);
    expect(f.take()).toContain('apply a-2');
    f.advance(30_000);
    expect(f.planner.state).toBe('succeeded');
  });

  it('a version that crashes halts at the canary, is rolled back there, and no device outside the canary ever ran it', () => {
    const f = new Fleet({ clusters: { paris: 3, berlin: 3 }, canary: { count: 2 }, gates: { soakMs: 60_000 }, behaviour: () => 'crashes' }).start();
    f.runToEnd();
    expect(f.planner.state).toBe('halted');
    expect(f.planner.status().reason).toMatch(/^canary: 1 of 2 devices failed \(at most 0\) — paris-1: 3 restarts during its soak \(at most 0\)/);
    expect(f.ranNew().sort()).toEqual(['paris-1', 'paris-2']);
    const log = f.take();
    expect(log.filter((l) => l.startsWith('revert'))).toEqual(['revert paris-1', 'revert paris-2']);
    expect(byState(f)).toEqual({ rolled_back: ['paris-1', 'paris-2'], skipped: ['paris-3', 'berlin-1', 'berlin-2', 'berlin-3'] });
    expect(f.planner.status().devices.find((d) => d.id === 'paris-3')?.reason).toBe('the rollout ended before its wave');
    expect(f.planner.status().devices[0].reason).toBe('rolled back (3 restarts during its soak (at most 0))');
  });

  it('the gate halts as soon as failures exceed --max-failures, without waiting for the rest of the wave', () => {
    const f = new Fleet({ clusters: { a: 4 }, canary: { count: 4 }, waves: [100], gates: { soakMs: 60_000 }, behaviour: (id) => (id === 'a-1' ? 'fails-to-start' : 'healthy') }).start();
    expect(f.planner.state).toBe('halted');
    expect(f.planner.status().reason).toBe('canary: 1 of 4 devices failed (at most 0) — a-1: revision 2 failed on the device: module fetch failed: sha256 mismatch');
    expect(byState(f)).toEqual({ rolled_back: ['a-1'], updating: ['a-2', 'a-3', 'a-4'] });
  });

  it('failures within --max-failures (count or %) pass the wave; the failed devices are reported', () => {
    const behaviour = (id: string): Behaviour => (id === 'a-2' ? 'fails-to-start' : 'healthy');
    const f = new Fleet({ clusters: { a: 10 }, canary: { count: 1 }, waves: [100], maxFailures: { percent: 10 }, behaviour }).start().runToEnd();
    expect(f.planner.state).toBe('succeeded');
    expect(f.planner.status().reason).toBe('9 of 10 devices healthy');
    expect(f.planner.status().waves[1]).toEqual({ index: 1, state: 'passed', devices: 9, passed: 8, failed: 1 });
    expect(byState(f).failed).toEqual(['a-2']);
    const strict = new Fleet({ clusters: { a: 10 }, canary: { count: 1 }, waves: [100], maxFailures: { count: 0 }, behaviour }).start().runToEnd();
    expect(strict.planner.state).toBe('halted');
  });

  it('a device that rolls back by itself counts as failed; its desired state is returned too, once', () => {
    const f = new Fleet({ clusters: { a: 3 }, behaviour: () => 'rolls-back' }).start();
    expect(f.planner.state).toBe('halted');
    f.root(() => f.planner.rollback());
    expect(f.take().filter((l) => l.startsWith('revert'))).toEqual(['revert a-1']);
    expect(f.planner.status().devices[0]).toMatchObject({
      state: 'rolled_back',
      reason: 'the device rolled back revision 2 by itself: root supervisor gave up (reached_max_restart_intensity)',
    });
  });

  it('rollback scope "wave" returns every device of the failed wave, healthy ones too', () => {
    const behaviour = (id: string): Behaviour => (id === 'a-3' ? 'crashes' : 'healthy');
    const f = new Fleet({ clusters: { a: 4 }, canary: { count: 4 }, waves: [100], rollbackScope: 'wave', behaviour }).start();
    expect(f.planner.state).toBe('halted');
    expect(f.take().filter((l) => l.startsWith('revert')).sort()).toEqual(['revert a-1', 'revert a-2', 'revert a-3', 'revert a-4']);
    expect(f.planner.status().devices.map((d) => d.reason)).toEqual([
      'rolled back (with wave 0)',
      'rolled back (with wave 0)',
      'rolled back (3 restarts during its soak (at most 0))',
      'rolled back (with wave 0)',
    ]);
  });

  it('restarts within --max-restarts pass', () => {
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], gates: { maxRestarts: 3, soakMs: 1000 }, behaviour: () => 'crashes' }).start();
    // Crashing devices never have every child running: they fail at the apply deadline, not at the restart gate.
    f.runToEnd();
    expect(f.planner.status().devices[0].reason).toBe('rolled back (did not run revision 2 with every child running within 1m1s)');
  });

  it('a device that never runs the revision fails at its deadline, with the reason', () => {
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], gates: { applyTimeoutMs: 5000 }, behaviour: () => 'never-runs' }).start();
    f.advance(4999);
    expect(f.planner.state).toBe('running');
    expect(f.planner.status().reason).toBe('canary running');
    f.advance(1);
    expect(f.planner.state).toBe('halted');
    expect(f.planner.status().devices[0].reason).toBe('rolled back (did not run revision 2 with every child running within 5s)');
  });
});

describe('rollout planner: what a restarted owner sends again', () => {
  it('orders() is the last order each cluster was given (none before the start), to send again after a restart', () => {
    const f = new Fleet({ clusters: { paris: 3, berlin: 3 }, waves: [50, 100] });
    expect(f.planner.orders()).toEqual([]);
    f.start();
    f.runToEnd();
    expect(f.planner.orders().map(({ cluster, order }) => `${cluster} ${order.wave} ${order.quota} ${order.mode}`)).toEqual(['paris 2 3 end', 'berlin 2 3 end']);
  });
});

describe('rollout planner: offline devices', () => {
  it('offline at its wave → pending; gets the change when it returns while the rollout is active', () => {
    const f = new Fleet({ clusters: { a: 3 }, canary: { count: 1 }, waves: [100], offline: ['a-3'] }).start();
    expect(f.planner.state).toBe('running');
    expect(f.planner.status().reason).toBe('wave 1 running; waiting up to 10m for 1 offline device(s)');
    expect(byState(f)).toEqual({ healthy: ['a-1', 'a-2'], pending: ['a-3'] });
    f.advance(300_000).take();
    f.setOnline('a-3', true);
    expect(f.take()).toEqual(['apply a-3', 'state running: wave 1 running', 'state succeeded: 3 of 3 devices healthy', 'order a wave=1 quota=3 end']);
  });

  it('after --offline-timeout it counts as skipped, reported, never silently', () => {
    const f = new Fleet({ clusters: { a: 3 }, canary: { count: 1 }, waves: [100], offline: ['a-3'] }).start();
    f.advance(599_999);
    expect(f.planner.state).toBe('running');
    f.advance(1);
    expect(f.planner.state).toBe('succeeded');
    expect(f.planner.status().reason).toBe('2 of 3 devices healthy');
    expect(f.planner.status().devices[2]).toEqual({ id: 'a-3', state: 'skipped', wave: 1, reason: 'offline for more than 10m' });
  });

  it('online devices go first, so an offline one does not hold the canary', () => {
    const f = new Fleet({ clusters: { a: 3 }, canary: { count: 1 }, waves: [100], offline: ['a-1'] }).start();
    expect(f.take()[2]).toBe('apply a-2');
  });

  it('a device that drops off during its soak fails the gate', () => {
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], gates: { soakMs: 10_000 } }).start();
    f.setOnline('a-1', false);
    expect(f.planner.state).toBe('halted');
    expect(f.planner.status().reason).toMatch(/a-1: went offline during its soak/);
  });

  it('a cluster that goes silent counts as done after --offline-timeout, named in the reason', () => {
    const f = new Fleet({ clusters: { a: 1, b: 2 }, waves: [100], gates: { soakMs: 1000 } });
    f.cut.add('b');
    f.start().advance(1000);
    expect(f.planner.status().reason).toBe('wave 1 running');
    f.advance(600_000);
    expect(f.planner.state).toBe('succeeded');
    expect(f.planner.status().reason).toBe('1 of 3 devices healthy; no word from b for 10m');
  });
});

describe('rollout planner: windows', () => {
  it('a window that opens later holds the first wave until it opens', () => {
    // The fleet clock starts at 2026-06-01T00:00:00Z; the window opens at 00:00:30 for 20 s.
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], windows: ['30 0 0 * * * 20s'] }).start();
    expect(f.take()).toEqual(['state running: canary waits for a window, opening at 2026-06-01T00:00:30.000Z', 'order a wave=0 quota=1 hold']);
    f.advance(29_999);
    expect(f.take()).toEqual([]);
    f.advance(1);
    expect(f.take().slice(0, 3)).toEqual(['state running: canary running', 'order a wave=0 quota=1 run', 'apply a-1']);
    expect(f.planner.state).toBe('succeeded');
  });

  it('a wave running at window end finishes its in-flight devices and waits for the next window', () => {
    const f = new Fleet({ clusters: { a: 3 }, canary: { count: 1 }, waves: [100], offline: ['a-3'], windows: ['0 * * * * * 10s'] }).start();
    expect(byState(f)).toEqual({ healthy: ['a-1', 'a-2'], pending: ['a-3'] });
    f.take();
    f.advance(10_000);
    expect(f.take()).toContain('order a wave=1 quota=3 hold');
    // Back online outside the window: it waits.
    f.setOnline('a-3', true);
    expect(f.take()).toEqual([]);
    expect(f.planner.status().devices[2]).toMatchObject({ state: 'pending', reason: 'waiting: the rollout is paused or outside its window' });
    f.advance(50_000);
    expect(f.take()).toEqual(['state running: wave 1 running; waiting up to 10m for 1 offline device(s)', 'order a wave=1 quota=3 run', 'apply a-3', 'state running: wave 1 running', 'state succeeded: 3 of 3 devices healthy', 'order a wave=1 quota=3 end']);
  });

  it('halts with the reason when no window opens within a year', () => {
    const f = new Fleet({ clusters: { a: 1 }, windows: ['0 0 0 29 2 * 1h'] }).start();
    expect(f.planner.status()).toMatchObject({ state: 'halted', reason: 'no window opens within a year' });
  });
});

describe('rollout planner: lifecycle commands', () => {
  it('pause holds new devices while in-flight ones finish; resume continues', () => {
    const f = new Fleet({ clusters: { a: 3 }, canary: { count: 1 }, waves: [100], gates: { soakMs: 10_000 } }).start();
    f.root(() => f.planner.pause());
    expect(f.take()).toEqual(['state running: canary running', 'order a wave=0 quota=1 run', 'apply a-1', 'state paused: paused by the operator', 'order a wave=0 quota=1 hold']);
    f.advance(10_000);
    expect(byState(f)).toEqual({ healthy: ['a-1'], pending: ['a-2', 'a-3'] });
    expect(f.take()).toEqual([]);
    f.root(() => f.planner.resume());
    expect(f.take()).toContain('apply a-2');
    f.runToEnd();
    expect(f.planner.state).toBe('succeeded');
  });

  it('a pause longer than its timeout aborts, with the reason', () => {
    const f = new Fleet({ clusters: { a: 3 }, gates: { soakMs: 10_000 }, pauseTimeoutMs: 3_600_000 }).start();
    f.root(() => f.planner.pause());
    f.advance(3_600_000);
    expect(f.planner.status()).toMatchObject({ state: 'aborted', reason: 'paused for more than 1h' });
  });

  it('abort stops the rollout; devices not reached are skipped', () => {
    const f = new Fleet({ clusters: { a: 3 }, canary: { count: 1 }, waves: [100], gates: { soakMs: 10_000 } }).start();
    f.root(() => f.planner.abort());
    f.advance(10_000);
    expect(f.planner.state).toBe('aborted');
    expect(byState(f)).toEqual({ healthy: ['a-1'], skipped: ['a-2', 'a-3'] });
  });

  it('rollback returns every device the rollout touched, also after it succeeded', () => {
    const f = new Fleet({ clusters: { a: 2, b: 1 }, waves: [100] }).start();
    expect(f.planner.state).toBe('succeeded');
    f.take();
    f.root(() => f.planner.rollback());
    expect(f.take().filter((l) => l.startsWith('revert')).sort()).toEqual(['revert a-1', 'revert a-2', 'revert b-1']);
    expect(f.planner.status()).toMatchObject({ state: 'rolled_back', reason: 'rolled back by the operator' });
    expect(byState(f)).toEqual({ rolled_back: ['a-1', 'a-2', 'b-1'] });
  });

  it('commands are refused in states they do not apply to, naming the state', () => {
    const f = new Fleet({ clusters: { a: 1 } }).start();
    expect(() => f.planner.pause()).toThrow(new CommandError('cannot pause a rollout that is succeeded'));
    expect(() => f.planner.resume()).toThrow('cannot resume a rollout that is succeeded');
    expect(() => f.planner.abort()).toThrow('cannot abort a rollout that is succeeded');
    f.root(() => f.planner.rollback());
    expect(() => f.planner.rollback()).toThrow('cannot roll back a rollout that is rolled back');
  });
});

describe('rollout planner: restarts resume from snapshots', () => {
  it('the root restarted mid-wave resumes where it was', () => {
    const f = new Fleet({ clusters: { a: 2, b: 2 }, waves: [50, 100], gates: { soakMs: 5000 } }).start();
    f.advance(5000);
    f.restartRoot();
    f.runToEnd();
    expect(f.planner.state).toBe('succeeded');
    expect(f.take().filter((l) => l.startsWith('apply'))).toEqual(['apply a-1', 'apply a-2', 'apply b-1', 'apply b-2']);
  });

  it('a cluster restarted mid-soak keeps its devices and deadlines', () => {
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], gates: { soakMs: 5000 } }).start();
    f.advance(2000).restartCluster('a');
    f.advance(3000);
    expect(byState(f)).toEqual({ healthy: ['a-1'], updating: ['a-2'] });
    f.runToEnd();
    expect(f.planner.state).toBe('succeeded');
    expect(f.take().filter((l) => l.startsWith('apply'))).toEqual(['apply a-1', 'apply a-2']);
  });
});

describe('rollout planner: no wedged rollout (property)', () => {
  it('whatever the devices do, the rollout ends, with a reason, and nothing outside a failed wave ran the change', () => {
    const behaviours: Behaviour[] = ['healthy', 'healthy', 'healthy', 'crashes', 'fails-to-start', 'rolls-back', 'never-runs'];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.constantFrom(...behaviours), { minLength: 30, maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.constantFrom(0, 1, 2),
        (sizes, script, offline, soakMs, maxFailures) => {
          const clusters = Object.fromEntries(sizes.map((n, i) => [`c${i}`, n]));
          const ids = sizes.flatMap((n, i) => Array.from({ length: n }, (_, j) => `c${i}-${j + 1}`));
          const f = new Fleet({
            clusters,
            gates: { soakMs },
            maxFailures: { count: maxFailures },
            behaviour: (id) => script[ids.indexOf(id)],
            offline: ids.filter((_, i) => offline[i]),
          }).start();
          f.runToEnd();
          const status = f.planner.status();
          expect(status.reason).toBeTruthy();
          expect(status.devices.every((d) => d.state !== 'pending' && (d.state === 'healthy' || d.reason))).toBe(true);
          if (status.state === 'halted') {
            const failedWave = status.waves.findIndex((w) => w.state === 'failed');
            const later = new Set(status.devices.filter((d) => d.wave === undefined || d.wave > failedWave).map((d) => d.id));
            expect(f.ranNew().filter((id) => later.has(id))).toEqual([]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
