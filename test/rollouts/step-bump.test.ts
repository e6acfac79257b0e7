import { describe, expect, it } from 'vitest';
import { bumpSkipReason, bumpStep } from '../../coordinator/rollouts/step-bump.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';

const spec = parseSupervisorSpec({
  id: 'pipeline',
  strategy: 'rest_for_one',
  children: [
    { id: 'sensor', step: 'synthetic-sensor@1.0.0', input: { cron: '* * * * * *' } },
    { id: 'average', step: 'moving-average@1.0.0', input: { from: 'sensor' }, config: { window: 5 } },
    { id: 'nested', supervisor: { children: [{ id: 'avg2', step: 'moving-average@0.9.0', input: 'x/y' }, { id: 'other', step: 'moving-averages@1.0.0' }] } },
  ],
});

describe('step bump: a pure rewrite of the current spec', () => {
  it('gives every worker running name@* the new version, at any depth, and nothing else', () => {
    const bump = bumpStep(spec, 'moving-average@1.1.0')!;
    expect(bump.changed).toEqual([
      { path: 'pipeline/average', from: 'moving-average@1.0.0' },
      { path: 'pipeline/nested/avg2', from: 'moving-average@0.9.0' },
    ]);
    const [sensor, average, nested] = bump.spec.children;
    expect(sensor).toBe(spec.children[0]);
    expect(average).toEqual({ ...spec.children[1], step: 'moving-average@1.1.0' });
    expect(nested).toMatchObject({ supervisor: { children: [{ step: 'moving-average@1.1.0', input: 'x/y' }, { step: 'moving-averages@1.0.0' }] } });
    // The input is untouched (a pure function).
    expect(spec.children[1]).toMatchObject({ step: 'moving-average@1.0.0' });
    expect(parseSupervisorSpec(JSON.parse(JSON.stringify(bump.spec)))).toEqual(bump.spec);
  });

  it('a device not running the step, or already running that version, is skipped with the reason', () => {
    expect(bumpStep(spec, 'threshold-alarm@2.0.0')).toBeNull();
    expect(bumpSkipReason(spec, 'threshold-alarm@2.0.0')).toBe('it does not run threshold-alarm');
    const once = bumpStep(spec, 'synthetic-sensor@1.0.1')!.spec;
    expect(bumpSkipReason(once, 'synthetic-sensor@1.0.1')).toBe('it already runs synthetic-sensor@1.0.1');
    expect(bumpSkipReason(null, 'synthetic-sensor@1.0.1')).toBe('it has no desired state to bump');
    expect(bumpSkipReason(spec, 'moving-average@1.1.0')).toBeUndefined();
  });
});
