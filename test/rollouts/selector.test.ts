import { describe, expect, it } from 'vitest';
import { LabelsSchema } from '../../shared/labels.js';
import { matches, parseSelector, type SelectorSubject } from '../../shared/selector.js';
import { SelectorSchema } from '../../shared/selector-schema.js';

const device = (over: Partial<SelectorSubject> & { labels?: Record<string, string> } = {}): SelectorSubject => ({
  id: 'paris/edge-1',
  cluster: 'root/eu/paris',
  arch: 'arm64',
  target: 'linux-arm64',
  agentVersion: '0.1.0',
  ...over,
  labels: LabelsSchema.parse(over.labels ?? { site: 'paris', tier: 'prod' }),
});

const sel = (s: string) => (d: SelectorSubject) => matches(parseSelector(s), d);

describe('selectors: Kubernetes label-selector syntax over labels and built-ins', () => {
  it('parses the example from the issue into typed requirements', () => {
    expect(parseSelector('site=paris,tier!=lab,arch in (arm64,arm),!canary-exempt').requirements).toEqual([
      { key: 'site', operator: 'in', values: ['paris'] },
      { key: 'tier', operator: 'notin', values: ['lab'] },
      { key: 'arch', operator: 'in', values: ['arm64', 'arm'] },
      { key: 'canary-exempt', operator: 'notexists', values: [] },
    ]);
  });

  it('equality, inequality, sets, existence', () => {
    expect(sel('site=paris')(device())).toBe(true);
    expect(sel('site==paris')(device())).toBe(true);
    expect(sel('site=berlin')(device())).toBe(false);
    expect(sel('site!=berlin')(device())).toBe(true);
    expect(sel('site in (berlin, paris)')(device())).toBe(true);
    expect(sel('site notin (berlin,paris)')(device())).toBe(false);
    expect(sel('tier')(device())).toBe(true);
    expect(sel('!tier')(device())).toBe(false);
    expect(sel('site=paris,tier=lab')(device())).toBe(false);
    expect(sel('empty=')(device({ labels: { empty: '' } }))).toBe(true);
    expect(sel('empty=')(device())).toBe(false);
  });

  it('k8s: != and notin also select devices without the key', () => {
    expect(sel('zone!=a')(device())).toBe(true);
    expect(sel('zone notin (a,b)')(device())).toBe(true);
    expect(sel('zone in (a,b)')(device())).toBe(false);
  });

  it('built-ins: cluster path with /** for a subtree, arch, target, agentVersion, id', () => {
    expect(sel('cluster=root/eu/paris')(device())).toBe(true);
    expect(sel('cluster=root/eu')(device())).toBe(false);
    expect(sel('cluster=root/eu/**')(device())).toBe(true);
    expect(sel('cluster=root/eu/paris/**')(device())).toBe(true);
    expect(sel('cluster=root/e/**')(device())).toBe(false);
    expect(sel('cluster in (root/us/**, root/eu/**)')(device())).toBe(true);
    expect(sel('cluster!=root/eu/**')(device())).toBe(false);
    expect(sel('arch in (arm64,arm)')(device())).toBe(true);
    expect(sel('arch=x64')(device())).toBe(false);
    expect(sel('!arch')(device({ arch: null }))).toBe(true);
    expect(sel('arch!=arm64')(device({ arch: null }))).toBe(true);
    expect(sel('target=linux-arm64,agentVersion=0.1.0')(device())).toBe(true);
    expect(sel('agentVersion=0.2.0-rc.1+b7')(device({ agentVersion: '0.2.0-rc.1+b7' }))).toBe(true);
    expect(sel('id=paris/edge-1')(device())).toBe(true);
    expect(sel('id in (edge-2)')(device())).toBe(false);
  });

  it('a label named like an Object.prototype member is only what the device has', () => {
    expect(sel('constructor')(device())).toBe(false);
    expect(sel('constructor=x')(device({ labels: { constructor: 'x' } }))).toBe(true);
  });

  it.each([
    ['', /column 1: empty selector/],
    ['   ', /column 1: empty selector/],
    ['site=paris,', /column 12: expected a requirement/],
    [',site', /column 1: expected a requirement/],
    ['site=paris tier=lab', /column 12: expected "," between requirements, got "tier"/],
    ['arch in arm64', /column 9: expected "\(" after "in", got "arm64"/],
    ['arch in (arm64', /column 15: expected "," or "\)" in the values of "arch"/],
    ['arch in ()', /column 10: expected a value, got "\)"/],
    ['site=pa ris', /column 9: expected "," between requirements/],
    ['site=a/b', /column 6: label "site": the value "a\/b"/],
    ['-bad=x', /column 1: label key "-bad"/],
    ['site~x', /column 5: unexpected character "~"/],
    ['site > 3', /column 6: unexpected character ">"/],
    ['!', /column 2: expected a key after "!"/],
    ['cluster=root//x', /column 9: "root\/\/x" is not a cluster path/],
    ['cluster=root/**/x', /is not a cluster path/],
    ['arch=', /column 6: "" is not a value of arch/],
    ['site like x', /column 6: expected "=", "!=", "in" or "notin" after "site", got "like"/],
  ])('rejects %j naming the column: %s', (source, message) => {
    expect(() => parseSelector(source)).toThrow(message);
  });

  it('bounds length, requirements and set sizes', () => {
    expect(() => parseSelector('a,'.repeat(1100) + 'a')).toThrow(/longer than 2048 characters/);
    expect(() => parseSelector(Array.from({ length: 33 }, (_, i) => `k${i}`).join(','))).toThrow(/more than 32 requirements/);
    expect(() => parseSelector(`k in (${Array.from({ length: 65 }, (_, i) => `v${i}`).join(',')})`)).toThrow(/more than 64 values/);
  });

  it('the schema parses once at the boundary and reports the parse error as its issue', () => {
    expect(SelectorSchema.parse('site=paris').requirements).toHaveLength(1);
    expect(SelectorSchema.safeParse('site=').success).toBe(true);
    expect(SelectorSchema.safeParse('site in').error?.issues[0].message).toMatch(/column 8: expected "\(" after "in"/);
  });
});
