import { randomBytes } from 'node:crypto';
import type { DesiredGuard, DesiredMessage, ModuleRef } from '../../shared/desired.js';
import { ValidationError, errorMessage } from '../../shared/errors.js';
import type { StoreOptions } from '../../shared/durable/index.js';
import type { Logger } from '../../shared/log.js';
import { RolloutRequest, type RolloutStatus } from '../../shared/rollout.js';
import { matches } from '../../shared/selector.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import type { DirectoryChange, DeviceDirectory } from '../fleet/directory.js';
import { LocalRollout, type RolloutDeps } from './local-rollout.js';
import { observationOf } from './observe.js';
import { RolloutFile } from './rollout-file.js';
import { bumpSkipReason } from './step-bump.js';
import type { AgentRelease } from '../../shared/agent-release.js';
import { agentCandidate, agentObservation } from '../releases/agent-change.js';

/** A rollout request refused: `status` is the HTTP status, the message names the field. */
export class RolloutRefused extends Error {
  override name = 'RolloutRefused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RolloutsDeps {
  dataDir: string;
  cluster: string;
  directory: DeviceDirectory;
  desiredOf(id: string): DesiredMessage | undefined;
  applyDesired: RolloutDeps['applyDesired'];
  /** Check a spec and resolve its steps (a ValidationError names the problem). */
  resolve(spec: unknown): Record<string, ModuleRef>;
  /** Whether the step registry has this `name@version`. */
  hasStep(ref: string): boolean;
  /** Agent changes: the releases of a version (asking the parent for those this cluster lacks), and the pin. */
  agent: { resolve(version: string): Promise<AgentRelease[]>; pin: RolloutDeps['agentPin'] };
  store: StoreOptions;
  log: Logger;
}

/**
 * The rollouts this coordinator owns, over its own devices (docs/rollouts.md): created from API requests,
 * persisted in rollouts.json, resumed after a restart, fed by the device directory's change feed.
 */
export class Rollouts {
  private readonly all = new Map<string, LocalRollout>();
  private readonly watchers = new Set<(status: RolloutStatus) => void>();
  private unsubscribe: (() => void) | undefined;

  private constructor(
    private readonly deps: RolloutsDeps,
    private readonly file: RolloutFile,
  ) {}

  static async open(deps: RolloutsDeps): Promise<Rollouts> {
    const file = await RolloutFile.open(deps.dataDir, deps.store);
    const r = new Rollouts(deps, file);
    for (const s of file.list()) {
      try {
        r.all.set(s.id, LocalRollout.restore(s, r.rolloutDeps()));
      } catch (err) {
        deps.log.error(`rollout ${s.id} cannot be resumed: ${errorMessage(err)}`);
      }
    }
    return r;
  }

  /** Subscribe to the directory and resume every stored rollout. */
  async start(): Promise<void> {
    this.unsubscribe = this.deps.directory.onChange((change) => this.changed(change));
    for (const r of this.all.values()) await r.start();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const r of this.all.values()) r.stop();
    await this.file.close();
  }

  /** Tell `listener` about every status change; returns the unsubscribe function. */
  watch(listener: (status: RolloutStatus) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  list(): RolloutStatus[] {
    return [...this.all.values()].sort((a, b) => b.createdAt - a.createdAt).map((r) => r.status());
  }

  get(id: string): LocalRollout | undefined {
    return this.all.get(id);
  }

  /** Check and start a rollout; RolloutRefused (4xx) names what is wrong with the request. */
  async create(body: unknown): Promise<RolloutStatus> {
    const parsed = RolloutRequest.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RolloutRefused(400, `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    const def = parsed.data;
    if ('step' in def.change && !this.deps.hasStep(def.change.step)) {
      throw new RolloutRefused(400, `change.step: unknown step ${def.change.step}: push it first (flotilla step push)`);
    }
    const releases = 'agent' in def.change ? await this.deps.agent.resolve(def.change.agent) : [];
    if ('agent' in def.change && releases.length === 0) throw new RolloutRefused(400, `change.agent: no agent release ${def.change.agent}: push one per target first (flotilla agent-release push)`);
    const selected = this.deps.directory.ownSummaries().filter((d) => matches(def.selector, d));
    if (selected.length === 0) throw new RolloutRefused(400, `selector: "${def.selector.source}" matches no device of cluster ${this.deps.cluster}`);
    for (const d of selected) {
      const other = [...this.all.values()].find((r) => r.active && r.has(d.id));
      if (other) throw new RolloutRefused(409, `selector: device ${d.id} is already in rollout ${other.id} (${other.status().state}); two active rollouts may not share a device`);
    }
    const candidates = selected.map((d) => {
      if ('agent' in def.change) return agentCandidate(d, def.change.agent, releases);
      if (!('step' in def.change)) return { id: d.id };
      const desired = this.deps.desiredOf(d.id);
      const skip = bumpSkipReason(desired ? parseSupervisorSpec(desired.spec) : null, def.change.step);
      return skip ? { id: d.id, skip } : { id: d.id };
    });
    const id = `r-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    let rollout: LocalRollout;
    try {
      rollout = LocalRollout.create(id, body, def, candidates, this.rolloutDeps());
    } catch (err) {
      if (err instanceof ValidationError) throw new RolloutRefused(400, `change.spec: ${err.message}`);
      throw err;
    }
    this.all.set(id, rollout);
    await rollout.start();
    return rollout.status();
  }

  private rolloutDeps(): RolloutDeps {
    const { deps } = this;
    return {
      cluster: deps.cluster,
      desiredOf: deps.desiredOf,
      applyDesired: deps.applyDesired,
      resolve: deps.resolve,
      observe: (id) => observationOf(deps.directory.live.get(id)),
      observeAgent: (id, version) => agentObservation(deps.directory.live.get(id), version),
      agentPin: deps.agent.pin,
      save: (record) => this.file.save(record),
      changed: (status) => {
        for (const w of this.watchers) w(status);
      },
      log: deps.log,
      now: Date.now,
    };
  }

  /** Own device news reaches the active rollouts that hold that device. */
  private changed(change: DirectoryChange): void {
    if (!('id' in change) || change.kind === 'remote' || change.kind === 'remote_event') return;
    for (const r of this.all.values()) {
      if (r.active && r.has(change.id)) void r.observe(change.id);
    }
  }
}
