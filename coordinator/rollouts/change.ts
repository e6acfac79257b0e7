import { stepRefs, type DesiredMessage, type ModuleRef } from '../../shared/desired.js';
import { ValidationError } from '../../shared/errors.js';
import type { RolloutDefinition } from '../../shared/rollout.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { bumpSkipReason, bumpStep } from './step-bump.js';

/**
 * What a rollout changes on each device: the one seam between the rollout machinery and the kinds of change
 * (docs/rollouts.md, "The change"). A kind is one row of KINDS: checked and resolved once at the coordinator that
 * owns the rollout (`resolve`: the modules it brings, from the step registry there), then turned into each device's
 * new desired state at the device's own coordinator (`skip`, `desired`), which may be a cluster below that never
 * saw the step pushed. Adding a kind adds its schema to shared/rollout.ts RolloutChange and a row here.
 */
export type Change = RolloutDefinition['change'];

/** The owner's step registry: a spec resolved to its modules (a ValidationError names the problem), a ref looked up. */
export interface StepLookup {
  resolve(spec: unknown): Record<string, ModuleRef>;
  module(ref: string): ModuleRef | undefined;
}

interface ChangeKind<C extends Change> {
  /** At the owner: the modules every device taking the change needs; a ChangeRefused names the field. */
  resolve(change: C, steps: StepLookup): Record<string, ModuleRef>;
  /** At the device's coordinator: why this device cannot take it (it is skipped and reported), or undefined. */
  skip(change: C, current: DesiredMessage | undefined): string | undefined;
  /** At the device's coordinator: the device's new desired state; throws (the device fails) when it cannot. */
  desired(change: C, modules: Record<string, ModuleRef>, current: DesiredMessage | undefined): { spec: unknown; modules: Record<string, ModuleRef> };
}

/** A change the owner cannot accept: `field` is the request field to name in the 400. */
export class ChangeRefused extends Error {
  override name = 'ChangeRefused';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type StepChange = Extract<Change, { step: string }>;
type SpecChange = Extract<Change, { spec: unknown }>;

const specOf = (current: DesiredMessage | undefined) => (current ? parseSupervisorSpec(current.spec) : null);

/** `--step NAME@VERSION`: every worker running NAME@* in the device's own spec gets VERSION (step-bump.ts). */
const stepBump: ChangeKind<StepChange> = {
  resolve({ step }, steps) {
    const module = steps.module(step);
    if (!module) throw new ChangeRefused('change.step', `unknown step ${step}: push it first (flotilla step push)`);
    return { [step]: module };
  },
  skip: ({ step }, current) => bumpSkipReason(specOf(current), step),
  desired({ step }, modules, current) {
    const bump = current && bumpStep(parseSupervisorSpec(current.spec), step);
    if (!bump) throw new Error(bumpSkipReason(specOf(current), step) ?? 'nothing to bump');
    // The device's own modules for the steps it keeps, the rollout's for the new one.
    const all = { ...current.modules, ...modules };
    return { spec: bump.spec, modules: Object.fromEntries(stepRefs(bump.spec).map((ref) => [ref, all[ref]])) };
  },
};

/** `--spec FILE`: one whole supervisor spec for every device. */
const wholeSpec: ChangeKind<SpecChange> = {
  resolve({ spec }, steps) {
    try {
      return steps.resolve(spec);
    } catch (err) {
      if (err instanceof ValidationError) throw new ChangeRefused('change.spec', err.message);
      throw err;
    }
  },
  skip: () => undefined,
  desired: ({ spec }, modules) => ({ spec, modules }),
};

/** One row per kind, keyed by the change's one field (RolloutChange is a union of strict one-field objects). */
const KINDS = { step: stepBump, spec: wholeSpec };

function kindOf(change: Change): ChangeKind<Change> {
  return KINDS[Object.keys(change)[0] as keyof typeof KINDS] as ChangeKind<Change>;
}

export const resolveChange = (change: Change, steps: StepLookup) => kindOf(change).resolve(change, steps);
export const skipReason = (change: Change, current: DesiredMessage | undefined) => kindOf(change).skip(change, current);
export const desiredFor = (change: Change, modules: Record<string, ModuleRef>, current: DesiredMessage | undefined) => kindOf(change).desired(change, modules, current);
