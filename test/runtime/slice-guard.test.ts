import { describe, expect, it } from 'vitest';
import { inspectorGuard, sliceGuard, vmGuard } from '../../agent/runtime/slice-guard.js';

describe.each([
  ['inspector', inspectorGuard],
  ['vm', vmGuard],
])('slice guard (%s)', (_kind, make) => {
  const guard = make();

  it('runs the function in this thread and says it returned', () => {
    let ran = 0;
    expect(guard.run(() => void ran++, 100)).toEqual({ ok: true });
    expect(ran).toBe(1);
  });

  it('terminates a call past its timeout; the next call runs', () => {
    const t0 = performance.now();
    expect(guard.run(() => {
      for (;;);
    }, 50)).toEqual({ ok: false, timedOut: true });
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(49);
    expect(took).toBeLessThan(2_000);
    let ran = false;
    expect(guard.run(() => void (ran = true), 50)).toEqual({ ok: true });
    expect(ran).toBe(true);
  });

  it('says what a throwing call threw, in one line', () => {
    expect(guard.run(() => {
      throw new Error('host bug\nsecond line');
    }, 100)).toEqual({ ok: false, timedOut: false, message: expect.stringMatching(/^(Error: )?host bug$/) });
    expect(guard.run(() => {
      throw 'a string';
    }, 100)).toEqual({ ok: false, timedOut: false, message: 'a string' });
  });
});

it('this Node has the inspector: the guard is the cheap one', () => {
  expect(sliceGuard().kind).toBe(process.features.inspector ? 'inspector' : 'vm');
});
