import { isSupervisorChild, type ChildSpec, type SupervisorChild, type SupervisorSpec } from '../../shared/supervisor-spec.js';

/**
 * Desired-state planning (docs/supervision.md, "Replacing the spec"): compare the spec a tree runs with the one it
 * should run and say, per child, what has to happen. Pure; SupervisorCore.apply carries it out.
 */

export type ChildChange =
  /** Same spec: keeps running. */
  | { kind: 'keep'; child: ChildSpec }
  /** Only restart, shutdown or significant changed: applied in place, as OTP's code_change does; keeps running. */
  | { kind: 'update'; child: ChildSpec }
  /** A worker whose step reference alone changed (besides restart/shutdown/significant): hot swap. */
  | { kind: 'swap'; child: ChildSpec }
  /** Anything else changed (config, input, output, worker ↔ supervisor, to or from simple_one_for_one): stop, start. */
  | { kind: 'restart'; child: ChildSpec }
  | { kind: 'add'; child: ChildSpec }
  | { kind: 'remove'; child: ChildSpec }
  /** A nested supervisor that keeps running while its own children change. */
  | { kind: 'nested'; child: SupervisorChild; changes: ChildChange[] };

/** Removed children first (in current order), then every desired child in desired order. */
export function diffChildren(current: SupervisorSpec, desired: SupervisorSpec): ChildChange[] {
  const before = new Map(current.children.map((c) => [c.id, c]));
  const wanted = new Set(desired.children.map((c) => c.id));
  const removed: ChildChange[] = current.children.filter((c) => !wanted.has(c.id)).map((child) => ({ kind: 'remove', child }));
  return [...removed, ...desired.children.map((child) => diffChild(before.get(child.id), child))];
}

function diffChild(was: ChildSpec | undefined, child: ChildSpec): ChildChange {
  if (!was) return { kind: 'add', child };
  if (sameJson(was, child)) return { kind: 'keep', child };
  if (isSupervisorChild(was) !== isSupervisorChild(child)) return { kind: 'restart', child };
  if (isSupervisorChild(was) && isSupervisorChild(child)) {
    if (isDynamic(was.supervisor) !== isDynamic(child.supervisor)) return { kind: 'restart', child };
    if (sameJson(was.supervisor, child.supervisor)) return { kind: 'update', child };
    return { kind: 'nested', child, changes: diffChildren(was.supervisor, child.supervisor) };
  }
  if (!sameJson(wiring(was), wiring(child))) return { kind: 'restart', child };
  return 'step' in was && 'step' in child && was.step !== child.step ? { kind: 'swap', child } : { kind: 'update', child };
}

export type PlanStep =
  /** The root's id changed, or it went to or from simple_one_for_one: stop the whole tree, start the new one. */
  | { action: 'replace' }
  | { action: 'update' | 'swap' | 'stop' | 'restart' | 'start'; path: string };

/**
 * The whole plan, in the order it is carried out within each supervisor: in-place updates and swaps; then removed
 * and changed children are stopped in reverse start order; then changed and added children start in order; then
 * nested supervisors reconcile their own children. An empty plan means nothing changes.
 */
export function plan(current: SupervisorSpec, desired: SupervisorSpec): PlanStep[] {
  if (needsReplace(current, desired)) return [{ action: 'replace' }];
  return planSupervisor(current.id, current, diffChildren(current, desired));
}

function planSupervisor(path: string, current: SupervisorSpec, changes: ChildChange[]): PlanStep[] {
  const at = (c: ChildChange) => `${path}/${c.child.id}`;
  // A simple_one_for_one supervisor's children are its run-time children; a new template applies to new ones.
  if (isDynamic(current)) return [];
  const order = new Map(current.children.map((c, i) => [c.id, i]));
  const steps: PlanStep[] = [];
  for (const c of changes) if (c.kind === 'update' || c.kind === 'swap' || c.kind === 'nested') steps.push({ action: c.kind === 'swap' ? 'swap' : 'update', path: at(c) });
  const stopping = changes.filter((c) => c.kind === 'remove' || c.kind === 'restart');
  stopping.sort((a, b) => order.get(b.child.id)! - order.get(a.child.id)!);
  for (const c of stopping) steps.push({ action: c.kind === 'remove' ? 'stop' : 'restart', path: at(c) });
  for (const c of changes) if (c.kind === 'add') steps.push({ action: 'start', path: at(c) });
  for (const c of changes) {
    if (c.kind !== 'nested') continue;
    const was = current.children.find((x) => x.id === c.child.id) as SupervisorChild;
    steps.push(...planSupervisor(at(c), was.supervisor, c.changes));
  }
  return steps;
}

/** The root cannot be reconciled in place when its id (every path) changes or it goes to or from simple_one_for_one. */
export function needsReplace(current: SupervisorSpec, desired: SupervisorSpec): boolean {
  return current.id !== desired.id || isDynamic(current) !== isDynamic(desired);
}

export function isDynamic(spec: SupervisorSpec): boolean {
  return spec.strategy === 'simple_one_for_one';
}

/** What a worker reads, writes and is configured with: changing any of it restarts the worker. */
function wiring(child: ChildSpec): unknown {
  return 'step' in child ? { config: child.config, input: child.input, output: child.output } : null;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}
