import { isSupervisorChild, type ChildSpec, type SupervisorChild, type SupervisorSpec } from '../../shared/supervisor-spec.js';

/**
 * The desired-state diff (docs/supervision.md, "Replacing the spec"): compare the spec a supervisor runs with the one
 * it should run and say, per child, what has to happen. Pure; SupervisorCore.apply carries it out, in OTP's order.
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

/** The root cannot be reconciled in place when its id (every path) changes or it goes to or from simple_one_for_one. */
export function needsReplace(current: SupervisorSpec, desired: SupervisorSpec): boolean {
  return current.id !== desired.id || isDynamic(current) !== isDynamic(desired);
}

export function isDynamic(spec: SupervisorSpec): boolean {
  return spec.strategy === 'simple_one_for_one';
}

/** What a worker reads, writes, is configured with and runs in: changing any of it restarts the worker. */
function wiring(child: ChildSpec): unknown {
  return 'step' in child ? { config: child.config, input: child.input, output: child.output, host: child.host } : null;
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
