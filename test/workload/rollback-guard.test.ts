import { describe, expect, it } from 'vitest';
import { RollbackGuard } from '../../agent/workload/rollback-guard.js';
import type { DesiredState } from '../../shared/desired.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';

const state = (revision: number, guard?: { windowMs: number }): DesiredState => ({ revision, ts: 0, spec: parseSupervisorSpec({ id: 'root' }), modules: {}, ...(guard && { guard }) });

describe('device-local rollback guard (fake clock)', () => {
  it('a guarded revision that fails within its window goes back to the state it replaced, once', () => {
    let now = 1000;
    const guard = new RollbackGuard(() => now);
    guard.applying(state(2, { windowMs: 5000 }), state(1));
    now += 5000;
    expect(guard.failed(3)).toBeUndefined();
    expect(guard.failed(2)?.revision).toBe(1);
    expect(guard.failed(2)).toBeUndefined();
  });

  it('not after its window, not without a guard, not without a previous state', () => {
    let now = 0;
    const guard = new RollbackGuard(() => now);
    guard.applying(state(2, { windowMs: 5000 }), state(1));
    now = 5001;
    expect(guard.failed(2)).toBeUndefined();
    guard.applying(state(3), state(2));
    expect(guard.failed(3)).toBeUndefined();
    guard.applying(state(4, { windowMs: 5000 }), undefined);
    expect(guard.failed(4)).toBeUndefined();
  });

  it('a newer desired state disarms the guard of the previous one', () => {
    const guard = new RollbackGuard(() => 0);
    guard.applying(state(2, { windowMs: 5000 }), state(1));
    guard.applying(state(3), state(2));
    expect(guard.failed(2)).toBeUndefined();
  });
});
