import type { DesiredGuard, DesiredMessage, ModuleRef } from '../../shared/desired.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { RolloutRequest, TERMINAL_STATES, type RolloutDefinition, type RolloutStatus } from '../../shared/rollout.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { RolloutPlanner, type Decision as PlannerDecision, type PlannerRules, type PlannerSnapshot } from './planner.js';
import { ShareCore, type Candidate, type Decision as ShareDecision, type Observation, type ShareSnapshot } from './share-core.js';
import { bumpSkipReason, bumpStep } from './step-bump.js';
import { planWaves } from './waves.js';
import type { AgentPin } from '../../shared/agent-release.js';

/** What a rollout needs from its coordinator. */
export interface RolloutDeps {
  cluster: string;
  /** The desired state of an own device, and a new one for some (coordinator/desired). */
  desiredOf(id: string): DesiredMessage | undefined;
  /** With a guard, the agent reverts by itself if the tree fails within `windowMs` (device-local rollback). */
  /** `agent` pins the agent release (null: unpinned; absent: as it was). */
  applyDesired(id: string, spec: unknown, modules: Record<string, ModuleRef>, guard?: DesiredGuard, agent?: AgentPin | null): Promise<number>;
  /** Check a spec and resolve its steps (throws a ValidationError naming the problem). */
  resolve(spec: unknown): Record<string, ModuleRef>;
  observe(id: string): Observation;
  /** Agent changes: what the gate sees of a device, and the pin of its target's release (none: no release). */
  observeAgent(id: string, version: string): Observation;
  agentPin(id: string, version: string, deadlineS: number): AgentPin | undefined;
  save(record: StoredRollout): Promise<void>;
  /** The rollout's status changed (for watchers). */
  changed(status: RolloutStatus): void;
  log: Logger;
  now(): number;
}

/** A rollout as it is persisted by the coordinator that owns it. */
export interface StoredRollout {
  id: string;
  createdAt: number;
  /** The request as the operator sent it (re-parsed on load). */
  request: unknown;
  planner: PlannerSnapshot;
  share: ShareSnapshot;
  /** Each updated device's desired state before the rollout changed it (null: it had none). */
  previous: [string, DesiredMessage | null][];
}

export function plannerRules(def: RolloutDefinition): PlannerRules {
  return { maxFailures: def.maxFailures, windows: def.windows, rollbackScope: def.rollbackScope, offlineTimeoutMs: def.offlineTimeout, pauseTimeoutMs: 86_400_000 };
}

/**
 * One rollout carried out at this coordinator over its own devices: the planner and this cluster's share core,
 * wired in-process (orders down, reports up), with their timers, the desired-state changes they decide, and a
 * persisted snapshot after every step so a restart resumes it. Decisions are carried out one batch at a time.
 */
export class LocalRollout {
  private readonly timers = new Map<'planner' | 'share', NodeJS.Timeout>();
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(
    readonly id: string,
    readonly createdAt: number,
    private readonly request: unknown,
    private readonly def: RolloutDefinition,
    private readonly planner: RolloutPlanner,
    private readonly share: ShareCore,
    private readonly previous: Map<string, DesiredMessage | null>,
    private readonly modules: Record<string, ModuleRef> | undefined,
    private readonly deps: RolloutDeps,
  ) {}

  static create(id: string, request: unknown, def: RolloutDefinition, candidates: Candidate[], deps: RolloutDeps): LocalRollout {
    const clock = { now: deps.now };
    const modules = 'spec' in def.change ? deps.resolve(def.change.spec) : undefined;
    const share = ShareCore.create({ soakMs: def.soak, maxRestarts: def.maxRestarts, offlineTimeoutMs: def.offlineTimeout, applyTimeoutMs: def.applyTimeout }, candidates, clock);
    const eligible = candidates.filter((c) => !c.skip).length;
    const planner = RolloutPlanner.create(plannerRules(def), planWaves([{ cluster: deps.cluster, selected: eligible }], def.canary, def.waves), clock);
    return new LocalRollout(id, deps.now(), request, def, planner, share, new Map(), modules, deps);
  }

  static restore(stored: StoredRollout, deps: RolloutDeps): LocalRollout {
    const def = RolloutRequest.parse(stored.request);
    const clock = { now: deps.now };
    const modules = 'spec' in def.change ? deps.resolve(def.change.spec) : undefined;
    return new LocalRollout(stored.id, stored.createdAt, stored.request, def, RolloutPlanner.restore(plannerRules(def), stored.planner, clock), ShareCore.restore(stored.share, clock), new Map(stored.previous), modules, deps);
  }

  /** Start (or resume after a restart): what each device looks like now, then the planner's orders. */
  start(): Promise<void> {
    return this.run(() => {
      for (const d of this.share.report().devices) this.onShare(this.share.observe(d.id, this.observation(d.id)));
      this.onShare(this.share.tick());
      this.onPlanner(this.planner.start());
    });
  }

  get active(): boolean {
    return !TERMINAL_STATES.includes(this.planner.state);
  }

  /** Whether the device is one this rollout selected. */
  has(id: string): boolean {
    return this.share.has(id);
  }

  status(): RolloutStatus {
    return { id: this.id, ...this.planner.status() };
  }

  /** A device of this rollout changed at its coordinator. */
  observe(id: string): Promise<void> {
    return this.run(() => this.onShare(this.share.observe(id, this.observation(id))));
  }

  /** pause | resume | abort | rollback; a CommandError (409) when the state does not allow it. */
  command(name: 'pause' | 'resume' | 'abort' | 'rollback'): Promise<void> {
    // Checked and changed at once, so the caller's answer reflects it; carried out in order with the rest.
    const decisions = this.planner[name]();
    return this.run(() => this.onPlanner(decisions));
  }

  /** What the gate sees of a device: its tree for spec and step changes, its agent for agent changes. */
  private observation(id: string): Observation {
    return 'agent' in this.def.change ? this.deps.observeAgent(id, this.def.change.agent) : this.deps.observe(id);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Run one step, then persist and tell watchers; steps never overlap. */
  private run(step: () => void): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.stopped) return;
      step();
      await this.deps.save(this.stored());
      this.deps.changed(this.status());
    });
    this.chain = next.catch((err) => this.deps.log.error(`rollout ${this.id}: ${errorMessage(err)}`));
    return next;
  }

  private stored(): StoredRollout {
    return { id: this.id, createdAt: this.createdAt, request: this.request, planner: this.planner.snapshot(), share: this.share.snapshot(), previous: [...this.previous] };
  }

  private onPlanner(decisions: PlannerDecision[]): void {
    for (const d of decisions) {
      if (d.type === 'timer') this.arm('planner', d.at, () => this.run(() => this.onPlanner(this.planner.tick())));
      else if (d.type === 'order') this.onShare(this.share.setOrder(d.order));
      else this.deps.log.info(`rollout ${this.id}: ${d.state}: ${d.reason}`);
    }
  }

  private onShare(decisions: ShareDecision[]): void {
    for (const d of decisions) {
      if (d.type === 'timer') this.arm('share', d.at, () => this.run(() => this.onShare(this.share.tick())));
      else if (d.type === 'report') this.onPlanner(this.planner.report(this.deps.cluster, d.report));
      else if (d.type === 'apply') void this.apply(d.device);
      else void this.revert(d.device);
    }
  }

  private arm(which: 'planner' | 'share', at: number, fire: () => void): void {
    clearTimeout(this.timers.get(which));
    if (this.stopped) return;
    // setTimeout holds at most ~24.8 days; a later deadline is re-armed when this one fires.
    this.timers.set(which, setTimeout(fire, Math.min(Math.max(0, at - this.deps.now()), 2 ** 31 - 1)));
  }

  /** Give the device the change: its own spec with the step bumped, or the rollout's spec. */
  private async apply(id: string): Promise<void> {
    const current = this.deps.desiredOf(id);
    let spec: unknown;
    let modules: Record<string, ModuleRef>;
    let agent: AgentPin | undefined;
    try {
      if ('agent' in this.def.change) {
        // Its own tree, unchanged. The apply timeout covers download, install and trial: the trial gets half, so
        // the device's own rollback comes before the gate gives up on it.
        agent = this.deps.agentPin(id, this.def.change.agent, this.def.applyTimeout / 2000);
        if (!agent) throw new Error(`no release ${this.def.change.agent} for its target`);
        spec = current?.spec ?? { id: 'root', children: [] };
        modules = current?.modules ?? {};
      } else if ('step' in this.def.change) {
        const own = current ? parseSupervisorSpec(current.spec) : null;
        const bump = own && bumpStep(own, this.def.change.step);
        if (!bump) throw new Error(bumpSkipReason(own, this.def.change.step) ?? 'nothing to bump');
        spec = bump.spec;
        modules = this.deps.resolve(spec);
      } else {
        spec = this.def.change.spec;
        modules = this.modules!;
      }
      if (!this.previous.has(id)) this.previous.set(id, current ?? null);
    } catch (err) {
      return void this.run(() => this.onShare(this.share.applyFailed(id, errorMessage(err))));
    }
    let revision: number;
    try {
      // The device's own probation: as long as the coordinator waits for its verdict.
      // An agent change has the launcher's trial instead of the tree's guard.
      revision = agent ? await this.deps.applyDesired(id, spec, modules, undefined, agent) : await this.deps.applyDesired(id, spec, modules, { windowMs: this.def.soak + this.def.applyTimeout });
    } catch (err) {
      return void this.run(() => this.onShare(this.share.applyFailed(id, errorMessage(err))));
    }
    void this.run(() => this.onShare(this.share.applied(id, revision)));
  }

  /** Back to the desired state it had before the rollout (an empty tree if it had none). */
  private async revert(id: string): Promise<void> {
    const before = this.previous.get(id);
    try {
      // An agent change goes back to the agent pinned before (none: unpinned, the device keeps what it runs).
      const agent = 'agent' in this.def.change ? (before?.agent ?? null) : undefined;
      if (before) await this.deps.applyDesired(id, before.spec, before.modules, undefined, agent);
      else if (before === null) await this.deps.applyDesired(id, { id: 'root', children: [] }, {}, undefined, agent);
    } catch (err) {
      this.deps.log.error(`rollout ${this.id}: could not roll back ${id}: ${errorMessage(err)}`);
    }
  }
}
