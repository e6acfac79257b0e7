import { z } from 'zod';
import { Sha256 } from './module-fetch.js';
import { StepLimits } from './step-manifest.js';
import { StepSignature } from './signing.js';
import { AgentPin } from './agent-release.js';
import { StepRef, parseSupervisorSpec, type SupervisorSpec, type WorkerChild } from './supervisor-spec.js';
import { ValidationError, describeZodError, errorMessage } from './errors.js';

/** The module a step reference resolved to on the coordinator that accepted the spec: its limits and signature. */
export const ModuleRef = z.object({
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  limits: StepLimits.partial().optional(),
  signature: StepSignature.optional(),
});
export type ModuleRef = z.infer<typeof ModuleRef>;

/**
 * `flotilla/d/<id>/desired`, retained (docs/protocol.md): the supervision tree a device should run, with every
 * `name@version` step reference resolved to a module digest. The agent fetches missing modules by digest, verifies
 * them, stores it, and applies only the difference to what runs (docs/supervision.md). `revision` grows with each
 * change, so a stale retained copy never overrides a newer spec the agent already has.
 */
/**
 * Set by a rollout: if this revision's tree fails to start, or its root supervisor gives up, within `windowMs` of
 * being applied, the agent goes back to the desired state it ran before by itself and reports `rolled_back`.
 */
export const DesiredGuard = z.object({ windowMs: z.number().int().nonnegative().max(366 * 86_400_000) });
export type DesiredGuard = z.infer<typeof DesiredGuard>;

export const DesiredMessage = z.object({
  revision: z.number().int().nonnegative(),
  ts: z.number().nonnegative(),
  spec: z.unknown(),
  modules: z.record(StepRef, ModuleRef),
  guard: DesiredGuard.optional(),
  /** The agent release the device should run (an agent rollout); absent: whatever it runs. */
  agent: AgentPin.optional(),
});
export type DesiredMessage = z.infer<typeof DesiredMessage>;
export interface DesiredState {
  revision: number;
  ts: number;
  spec: SupervisorSpec;
  modules: Record<string, ModuleRef>;
  guard?: DesiredGuard;
  agent?: AgentPin;
}

/** Parse a desired message; every step the spec uses must have its module listed. */
export function parseDesired(json: unknown): DesiredState {
  const outer = DesiredMessage.safeParse(json);
  if (!outer.success) throw new ValidationError(`desired spec: ${describeZodError(outer.error)}`);
  let spec: SupervisorSpec;
  try {
    spec = parseSupervisorSpec(outer.data.spec);
  } catch (err) {
    throw new ValidationError(`desired spec: ${errorMessage(err)}`);
  }
  const missing = stepRefs(spec).filter((ref) => !(ref in outer.data.modules));
  if (missing.length) throw new ValidationError(`desired spec: no module listed for ${missing.join(', ')}`);
  return { ...outer.data, spec };
}

/** Every `name@version` the tree uses, in start order, without repeats. */
export function stepRefs(spec: SupervisorSpec): string[] {
  return [...new Set(workers(spec).map((w) => w.step))];
}

/** Every worker child of `spec`, at any depth. */
export function workers(spec: SupervisorSpec): WorkerChild[] {
  return spec.children.flatMap((child) => ('supervisor' in child ? workers(child.supervisor) : [child]));
}
