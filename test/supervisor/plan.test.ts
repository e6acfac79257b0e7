import { describe, expect, it } from 'vitest';
import { diffChildren, needsReplace, type ChildChange } from '../../agent/supervisor/plan.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { Harness, worker as w } from './harness.js';

const spec = (children: unknown[], flags: Record<string, unknown> = {}) => ({ id: 'root', ...flags, children });
const line = (c: ChildChange): string => (c.kind === 'nested' ? `nested ${c.child.id} [${c.changes.map(line).join(', ')}]` : `${c.kind} ${c.child.id}`);
const d = (a: unknown, b: unknown) => diffChildren(parseSupervisorSpec(a), parseSupervisorSpec(b)).map(line);

describe('diffChildren(current, desired)', () => {
  const base = [w('a'), w('b', { input: 'in/#', output: 'x' }), w('c'), w('d')];

  it('an identical spec keeps every child, whatever the key order of its objects', () => {
    expect(d(spec(base), spec(base))).toEqual(['keep a', 'keep b', 'keep c', 'keep d']);
    const cfg = [w('a', { config: { x: 1, y: [1, { p: 1, q: 2 }] } })];
    expect(d(spec(cfg), spec([w('a', { config: { y: [1, { q: 2, p: 1 }], x: 1 } })]))).toEqual(['keep a']);
    expect(d(spec(cfg), spec([w('a', { config: { x: 1, y: [{ p: 1, q: 2 }, 1] } })]))).toEqual(['restart a']);
  });

  it('a changed step ref alone is a hot swap; config, input or output changes restart that child', () => {
    const desired = [w('a', { step: 'a@2.0.0' }), w('b', { input: 'in/+', output: 'x' }), w('c', { config: { k: 1 } }), w('d', { step: 'd@2.0.0', shutdown: 10 })];
    expect(d(spec(base), spec(desired))).toEqual(['swap a', 'restart b', 'restart c', 'swap d']);
  });

  it('a worker moved to another step host restarts, also when it inherits the host from its supervisor', () => {
    expect(d(spec(base), spec([w('a', { host: 'h' }), ...base.slice(1)]))).toEqual(['restart a', 'keep b', 'keep c', 'keep d']);
    const nested = (host?: string) => spec([{ id: 'sub', supervisor: { ...(host ? { host } : {}), children: [w('x'), w('y', { host: 'own' })] } }]);
    expect(d(nested(), nested('h'))).toEqual(['nested sub [restart x, keep y]']);
  });

  it('restart, shutdown or significant alone are updated in place', () => {
    expect(d(spec(base), spec([w('a', { restart: 'transient' }), w('b', { input: 'in/#', output: 'x', shutdown: 'brutal_kill' }), w('c'), w('d')]))).toEqual([
      'update a',
      'update b',
      'keep c',
      'keep d',
    ]);
  });

  it('removed children come first, in current order; then every desired child in desired order', () => {
    expect(d(spec(base), spec([w('b', { input: 'in/#', output: 'x' }), w('e'), w('d'), w('f')]))).toEqual(['remove a', 'remove c', 'keep b', 'add e', 'keep d', 'add f']);
  });

  it('nested supervisors diff their own children; a worker becoming a supervisor, or the reverse, restarts', () => {
    const cur = spec([{ id: 's', supervisor: { children: [w('x'), w('y')] } }, w('z'), { id: 'v', supervisor: { children: [] } }]);
    const des = spec([{ id: 's', supervisor: { intensity: 3, children: [w('x', { step: 'x@9' }), w('n')] } }, { id: 'z', supervisor: { children: [] } }, w('v')]);
    expect(d(cur, des)).toEqual(['nested s [remove y, swap x, add n]', 'restart z', 'restart v']);
  });

  it('a nested supervisor with only its own restart/shutdown changed is updated; going to or from simple_one_for_one restarts', () => {
    const nested = (extra: Record<string, unknown>, flags: Record<string, unknown> = {}) => spec([{ id: 's', ...extra, supervisor: { ...flags, children: [w('x')] } }]);
    expect(d(nested({}), nested({ shutdown: 'brutal_kill' }))).toEqual(['update s']);
    expect(d(nested({}), nested({}, { strategy: 'simple_one_for_one' }))).toEqual(['restart s']);
    expect(d(nested({}, { strategy: 'simple_one_for_one' }), nested({}))).toEqual(['restart s']);
  });

  it('a new root id, or a root going to or from simple_one_for_one, needs the tree replaced', () => {
    const parsed = (x: unknown) => parseSupervisorSpec(x);
    expect(needsReplace(parsed(spec(base)), parsed(spec(base)))).toBe(false);
    expect(needsReplace(parsed(spec(base)), parsed({ ...spec(base), id: 'other' }))).toBe(true);
    expect(needsReplace(parsed(spec(base)), parsed(spec([w('t')], { strategy: 'simple_one_for_one' })))).toBe(true);
    expect(needsReplace(parsed(spec([w('t')], { strategy: 'simple_one_for_one' })), parsed(spec(base)))).toBe(true);
  });
});

describe('SupervisorCore.apply', () => {
  const start = (children: unknown[], flags: Record<string, unknown> = {}) => {
    const h = new Harness(spec(children, flags)).start();
    h.take();
    return h;
  };
  const apply = (h: Harness, desired: unknown) => h.drive(() => h.core.apply(parseSupervisorSpec(desired)));

  it('unchanged children keep running; changed ones are swapped or restarted; removed stop in reverse; added start in order', () => {
    const h = start([w('a'), w('b'), w('c'), w('d')]);
    apply(h, spec([w('a'), w('b', { step: 'b@2.0.0' }), w('e'), w('d', { config: { v: 2 } }), w('f')]));
    expect(h.take().filter((l) => !l.includes('timer'))).toEqual([
      'swap root/b b@2.0.0',
      'stop root/d', 'child_terminated root d shutdown',
      'stop root/c', 'child_terminated root c shutdown',
      'start root/e', 'child_started root e',
      'start root/d', 'child_started root d',
      'start root/f', 'child_started root f',
    ]);
    h.stop();
    expect(h.take().filter((l) => l.startsWith('stop '))).toEqual(['stop root/f', 'stop root/d', 'stop root/e', 'stop root/b', 'stop root/a']);
  });

  it('a swapped step is what the worker restarts with', () => {
    const h = start([w('a')], { intensity: 5 });
    apply(h, spec([w('a', { step: 'a@2.0.0' })]));
    h.take();
    const starts = h.core.exited('root/a', 'exit:1').filter((d) => d.type === 'start');
    expect(starts.map((d) => (d.type === 'start' ? d.child.step : ''))).toEqual(['a@2.0.0']);
  });

  it('a nested supervisor keeps running while its children change, and restarts from the new spec', () => {
    const h = start([{ id: 's', supervisor: { children: [w('x'), w('y')] } }]);
    apply(h, spec([{ id: 's', supervisor: { intensity: 0, children: [w('x'), w('n')] } }]));
    expect(h.events()).toEqual(['child_terminated root/s y shutdown', 'child_started root/s n']);
    h.exit('root/s/x', 'exit:1');
    // intensity 0 from the new spec: the nested supervisor gives up at once and is restarted by the root.
    expect(h.events()).toContain('reached_max_restart_intensity root/s');
    expect(h.core.snapshot().map((c) => `${c.path}:${c.state}`)).toEqual(['root/s:running', 'root/s/x:running', 'root/s/n:running']);
  });

  it('a spec applied while a supervisor is busy is applied when it is idle', () => {
    const h = start([w('a'), w('b')], { intensity: 5 });
    h.manualStart.add('root/a');
    h.exit('root/a', 'exit:1');
    apply(h, spec([w('a'), w('c')]));
    expect(h.take()).toEqual(['child_terminated root a exit:1', 'start root/a']);
    h.running.add('root/a');
    h.drive(() => h.core.started('root/a'));
    expect(h.events()).toEqual(['child_started root a', 'child_terminated root b shutdown', 'child_started root c']);
  });

  it('replacing the root stops the old tree and starts the new one', () => {
    const h = start([w('a')]);
    apply(h, { id: 'other', children: [w('z')] });
    expect(h.events()).toEqual(['child_terminated root a shutdown', 'supervisor_shutdown root shutdown', 'child_started other z']);
    expect(h.core.rootPath).toBe('other');
    expect(h.core.status).toBe('running');
  });
});
