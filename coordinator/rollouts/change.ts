import { releaseSignatureProblem, type AgentPin, type AgentRelease } from '../../shared/agent-release.js';
import type { DeviceSummary } from '../../shared/api.js';
import { stepRefs, type DesiredMessage, type ModuleRef } from '../../shared/desired.js';
import { ValidationError } from '../../shared/errors.js';
import type { RolloutDefinition } from '../../shared/rollout.js';
import { revokedSteps } from '../../shared/revocations.js';
import { signatureProblem } from '../../shared/signing.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { agentObservation, agentSkip } from '../releases/agent-change.js';
import type { LiveDevice } from '../fleet/fleet-state.js';
import { observationOf } from './observe.js';
import type { Observation } from './share-core.js';
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

/** This coordinator's agent releases (coordinator/releases). */
export interface ReleaseLookup {
  /** The releases of a version, asking the parent for those this cluster lacks. */
  resolve(version: string): Promise<AgentRelease[]>;
  /** The releases of a version held here. */
  held(version: string): AgentRelease[];
  /** The pin for a device of `target` (undefined: no release for it here); the trial has `deadlineS`. */
  pin(target: string | undefined, version: string, deadlineS: number): AgentPin | undefined;
}

/** What a kind reads at its coordinator. */
export interface ChangeEnv {
  steps: StepLookup;
  releases: ReleaseLookup;
  /** The fleet's revoked keys as this coordinator holds them (coordinator/keys). */
  revoked(): ReadonlySet<string>;
}

/** One device at its own coordinator, as a kind sees it. */
export interface DeviceView {
  current: DesiredMessage | undefined;
  summary: DeviceSummary | undefined;
}

/** A device's new desired state; `agent` pins a release, `guard` says whether the tree's own rollback guards it. */
export interface ChangedDesired {
  spec: unknown;
  modules: Record<string, ModuleRef>;
  guard: boolean;
  agent?: AgentPin;
}

interface ChangeKind<C extends Change> {
  /** At the owner: the modules every device taking the change needs; a ChangeRefused names the field. */
  resolve(change: C, env: ChangeEnv): Promise<Record<string, ModuleRef>>;
  /** At the device's coordinator, when its share opens: fetch what the change needs that is not here yet. */
  prepare(change: C, env: ChangeEnv): Promise<void>;
  /** At the device's coordinator: why this device cannot take it (it is skipped and reported), or undefined. */
  skip(change: C, device: DeviceView, env: ChangeEnv): string | undefined;
  /** At the device's coordinator: the device's new desired state; throws (the device fails) when it cannot. */
  desired(change: C, modules: Record<string, ModuleRef>, device: DeviceView, env: ChangeEnv, applyTimeoutMs: number): ChangedDesired;
  /** What the gate sees of a device. */
  observe(change: C, live: LiveDevice | undefined): Observation;
  /** Whether a revert puts back the agent pinned before (an agent change) or leaves the pin as it is. */
  revertsAgent: boolean;
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
type AgentChange = Extract<Change, { agent: string }>;

const specOf = (current: DesiredMessage | undefined) => (current ? parseSupervisorSpec(current.spec) : null);

/** `--step NAME@VERSION`: every worker running NAME@* in the device's own spec gets VERSION (step-bump.ts). */
/** The tree kinds: the gate watches the tree, the agent's own tree guard covers the soak. */
const treeKind = { prepare: async () => {}, observe: (_: unknown, live: LiveDevice | undefined) => observationOf(live), revertsAgent: false };

const stepBump: ChangeKind<StepChange> = {
  ...treeKind,
  async resolve({ step }, { steps }) {
    const module = steps.module(step);
    if (!module) throw new ChangeRefused('change.step', `unknown step ${step}: push it first (flotilla step push)`);
    return { [step]: module };
  },
  skip: ({ step }, { current }) => bumpSkipReason(specOf(current), step),
  desired({ step }, modules, { current }) {
    const bump = current && bumpStep(parseSupervisorSpec(current.spec), step);
    if (!bump) throw new Error(bumpSkipReason(specOf(current), step) ?? 'nothing to bump');
    // The device's own modules for the steps it keeps, the rollout's for the new one.
    const all = { ...current.modules, ...modules };
    return { spec: bump.spec, modules: Object.fromEntries(stepRefs(bump.spec).map((ref) => [ref, all[ref]])), guard: true };
  },
};

/** `--spec FILE`: one whole supervisor spec for every device. */
const wholeSpec: ChangeKind<SpecChange> = {
  ...treeKind,
  async resolve({ spec }, { steps }) {
    try {
      return steps.resolve(spec);
    } catch (err) {
      if (err instanceof ValidationError) throw new ChangeRefused('change.spec', err.message);
      throw err;
    }
  },
  skip: () => undefined,
  desired: ({ spec }, modules) => ({ spec, modules, guard: true }),
};

/**
 * `--agent VERSION`: each device gets the release of its own target pinned in its desired state, its tree unchanged
 * (coordinator/releases/agent-change.ts); the launcher's trial, not the tree's guard, is its probation.
 */
const agentRelease: ChangeKind<AgentChange> = {
  async resolve({ agent }, { releases, revoked }) {
    const found = await releases.resolve(agent);
    if (found.length === 0) throw new ChangeRefused('change.agent', `no agent release ${agent}: push one per target first (flotilla agent-release push)`);
    // Every device would refuse it: refused here rather than by a failed canary.
    const refused = found.map((r) => releaseSignatureProblem(new Map(), r, revoked())).find((p) => p !== undefined);
    if (refused) throw new ChangeRefused('change.agent', refused);
    return {};
  },
  async prepare({ agent }, { releases }) {
    await releases.resolve(agent);
  },
  skip: ({ agent }, { summary }, { releases }) => (summary ? agentSkip(summary, agent, releases.held(agent)) : 'not a device of this cluster'),
  desired({ agent }, _modules, { current, summary }, { releases }, applyTimeoutMs) {
    // The apply timeout covers download, install and trial: the trial gets half, so the device's own rollback
    // comes before the gate gives up on it.
    const pin = releases.pin(summary?.target ?? undefined, agent, applyTimeoutMs / 2000);
    if (!pin) throw new Error(`no release ${agent} for its target`);
    return { spec: current?.spec ?? { id: 'root', children: [] }, modules: current?.modules ?? {}, guard: false, agent: pin };
  },
  observe: ({ agent }, live) => agentObservation(live, agent),
  revertsAgent: true,
};

/** One row per kind, keyed by the change's one field (RolloutChange is a union of strict one-field objects). */
const KINDS = { step: stepBump, spec: wholeSpec, agent: agentRelease };

function kindOf(change: Change): ChangeKind<Change> {
  return KINDS[Object.keys(change)[0] as keyof typeof KINDS] as ChangeKind<Change>;
}

/** The modules a change brings; a ChangeRefused when one is signed by a revoked key, which every agent would refuse. */
export async function resolveChange(change: Change, env: ChangeEnv): Promise<Record<string, ModuleRef>> {
  const modules = await kindOf(change).resolve(change, env);
  const [ref] = revokedSteps(modules, env.revoked());
  if (ref !== undefined) {
    const m = modules[ref];
    throw new ChangeRefused(`change.${Object.keys(change)[0]}`, `${signatureProblem(new Map(), { ref, sha256: m.sha256, limits: m.limits }, m.signature, env.revoked())}: push a version signed by a key in use`);
  }
  return modules;
}
export const prepareChange = (change: Change, env: ChangeEnv) => kindOf(change).prepare(change, env);
export const skipReason = (change: Change, device: DeviceView, env: ChangeEnv) => kindOf(change).skip(change, device, env);
export const desiredFor = (change: Change, modules: Record<string, ModuleRef>, device: DeviceView, env: ChangeEnv, applyTimeoutMs: number) =>
  kindOf(change).desired(change, modules, device, env, applyTimeoutMs);
export const observeFor = (change: Change, live: LiveDevice | undefined) => kindOf(change).observe(change, live);
export const revertsAgent = (change: Change) => kindOf(change).revertsAgent;
