import { describe, expect, it } from 'vitest';
import { RolloutRequest, RolloutStatus } from '../../shared/rollout.js';
import { Fleet } from '../../bench/sim/rollout-fleet.js';

const issue = (input: unknown) => {
  const r = RolloutRequest.safeParse(input);
  return r.success ? undefined : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
};

describe('rollout request: parsed once into a definition', () => {
  it('fills the defaults and parses the operator\'s words', () => {
    const def = RolloutRequest.parse({ selector: 'site=paris', change: { step: 'moving-average@1.1.0' } });
    expect(def).toMatchObject({
      canary: { count: 1 },
      waves: [10, 50, 100],
      soak: 60_000,
      maxFailures: { count: 0 },
      maxRestarts: 0,
      windows: [],
      offlineTimeout: 3_600_000,
      applyTimeout: 120_000,
      rollbackScope: 'failed',
    });
    expect(def.selector.requirements).toEqual([{ key: 'site', operator: 'in', values: ['paris'] }]);
    const full = RolloutRequest.parse({ selector: 'cluster=root/**', change: { spec: { id: 'x' } }, canary: '5%', waves: '25%,100%', soak: '0', maxFailures: '10%', windows: ['0 2 * * * 2h Europe/Paris'] });
    expect(full).toMatchObject({ canary: { percent: 5 }, waves: [25, 100], soak: 0, maxFailures: { percent: 10 } });
    expect(full.windows[0]).toMatchObject({ cron: '0 2 * * *', timeZone: 'Europe/Paris' });
  });

  it.each([
    [{ selector: 'site in', change: { step: 'a@1' } }, /^selector: selector "site in": column 8/],
    [{ selector: 'a=b', change: { step: 'nope' } }, /^change/],
    [{ selector: 'a=b', change: { step: 'a@1' }, canary: '150%' }, /^canary: expected a number of devices \(5\) or a percentage \(10%\), got "150%"/],
    [{ selector: 'a=b', change: { step: 'a@1' }, waves: '50%,20%,100%' }, /^waves: expected 1-20 increasing percentages ending at 100, e.g. 10%,50%,100% \(wave 2: "20"\)/],
    [{ selector: 'a=b', change: { step: 'a@1' }, waves: '50%' }, /^waves: expected 1-20 increasing/],
    [{ selector: 'a=b', change: { step: 'a@1' }, soak: '5 minutes' }, /^soak: expected a duration/],
    [{ selector: 'a=b', change: { step: 'a@1' }, windows: ['0 2 * * * 2h Nowhere/City'] }, /^windows.0: window .*: unknown time zone "Nowhere\/City"/],
    [{ selector: 'a=b', change: { step: 'a@1' }, surprise: 1 }, /Unrecognized key: "surprise"/],
  ])('rejects %j naming the field', (input, message) => {
    expect(issue(input)).toMatch(message);
  });

  it('the planner\'s status is the JSON contract of issue 12', () => {
    const f = new Fleet({ clusters: { a: 2 }, waves: [100], behaviour: (id) => (id === 'a-1' ? 'fails-to-start' : 'healthy') }).start();
    const status = RolloutStatus.parse({ id: 'r1', ...f.planner.status() });
    expect(status).toMatchObject({ id: 'r1', state: 'halted', waves: [{ index: 0, state: 'failed', devices: 1, passed: 0, failed: 1 }, { index: 1, state: 'waiting' }] });
    expect(status.devices.map((d) => d.state)).toEqual(['rolled_back', 'skipped']);
  });
});
