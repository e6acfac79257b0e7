import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { labelKeyProblem, labelValue, labelValueProblem } from '../../shared/label-syntax.js';
import { LabelPatch, LabelsSchema, applyLabelPatch, parseLabelArgs } from '../../shared/labels.js';

describe('labels: Kubernetes syntax and limits', () => {
  it.each(['site', 'tier.x_y-z', 'example.com/site', 'a', 'A9', 'flotilla.io/canary-exempt', 'x'.repeat(63), `${'a'.repeat(253)}/n`])('accepts key %s', (key) => {
    expect(labelKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ['', /the name must be/],
    ['-site', /the name must be/],
    ['site-', /the name must be/],
    ['x'.repeat(64), /the name must be 1-63/],
    ['Example.com/site', /the prefix must be a DNS subdomain/],
    ['/site', /the prefix/],
    [`${'a'.repeat(254)}/n`, /at most 253/],
    ['a/b/c', /the name must be/],
    ['si te', /the name must be/],
    ['constructor', undefined],
    ['__proto__', /the name must be/],
    ['cluster', /reserved: it is a built-in selector field/],
    ['agentVersion', /reserved/],
    ['example.com/arch', undefined],
  ])('key %j: %s', (key, problem) => {
    if (problem === undefined) expect(labelKeyProblem(key)).toBeUndefined();
    else expect(labelKeyProblem(key)).toMatch(problem);
  });

  it('values: empty, or up to 63 characters alphanumeric at both ends', () => {
    expect(labelValueProblem('k', '')).toBeUndefined();
    expect(labelValueProblem('k', 'paris-1.b_2')).toBeUndefined();
    expect(labelValueProblem('k', 'v'.repeat(63))).toBeUndefined();
    expect(labelValueProblem('k', 'v'.repeat(64))).toMatch(/at most 63/);
    expect(labelValueProblem('k', 'a/b')).toMatch(/label "k": the value "a\/b"/);
    expect(labelValueProblem('k', '.a')).toMatch(/alphanumeric at both ends/);
  });

  it('the labels schema bounds the count, names the bad key, and keys never meet Object.prototype', () => {
    const labels = LabelsSchema.parse(JSON.parse('{"site":"paris","constructor":"x"}'));
    expect(labelValue(labels, 'site')).toBe('paris');
    expect(labelValue(labels, 'constructor')).toBe('x');
    expect(labelValue(LabelsSchema.parse({}), 'constructor')).toBeUndefined();
    expect(labelValue(labels, 'toString')).toBeUndefined();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(LabelsSchema.safeParse(many).error?.issues[0].message).toMatch(/at most 64 labels per device, got 65/);
    const bad = LabelsSchema.safeParse({ ok: 'v', 'b@d': 'v' });
    expect(bad.error?.issues[0].path).toEqual(['b@d']);
  });

  it('kubectl-style arguments: k=v sets, k- removes, anything else is named', () => {
    expect([...parseLabelArgs(['site=paris', 'tier=', 'canary-exempt-'])]).toEqual([
      ['site', 'paris'],
      ['tier', ''],
      ['canary-exempt', null],
    ]);
    expect(() => parseLabelArgs(['site'])).toThrow('label "site": expected KEY=VALUE or KEY- (remove)');
    expect(() => parseLabelArgs(['site-'], false)).toThrow('label "site-": expected KEY=VALUE');
    expect(() => parseLabelArgs(['site=a', 'site=b'])).toThrow('label "site" is given twice');
    expect(() => parseLabelArgs(['arch=arm64'])).toThrow(/reserved/);
    expect(() => parseLabelArgs(['site=a b'])).toThrow(/the value "a b"/);
  });

  it('a patch sets and removes, sorted, and refuses to exceed the per-device limit', () => {
    const start = LabelsSchema.parse({ site: 'paris', tier: 'lab' });
    const next = applyLabelPatch(start, LabelPatch.parse({ tier: null, a: '1' }));
    expect(Object.entries(next)).toEqual([
      ['a', '1'],
      ['site', 'paris'],
    ]);
    expect(Object.entries(start)).toHaveLength(2);
    const full = LabelsSchema.parse(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, 'v'])));
    expect(() => applyLabelPatch(full, LabelPatch.parse({ one: 'more' }))).toThrow('at most 64 labels per device, the change would make 65');
    expect(Object.keys(applyLabelPatch(full, LabelPatch.parse({ k0: null, one: 'more' })))).toHaveLength(64);
  });

  it('every key the schema accepts is one labelKeyProblem accepts (property); __proto__ is dropped, never a label', () => {
    expect(Object.keys(LabelsSchema.parse(JSON.parse('{"__proto__":"x"}')))).toEqual([]);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 70 }), (k, v) => {
        const ok = LabelsSchema.safeParse({ [k]: v }).success;
        expect(ok).toBe(labelKeyProblem(k) === undefined && labelValueProblem(k, v) === undefined);
      }),
    );
  });
});
