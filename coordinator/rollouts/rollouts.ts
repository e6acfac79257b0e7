import { randomBytes } from 'node:crypto';
import type { AgentPin } from '../../shared/agent-release.js';
import type { DesiredGuard, DesiredMessage, ModuleRef } from '../../shared/desired.js';
import { errorMessage } from '../../shared/errors.js';
import type { RequestOp, RequestScope } from '../../shared/federation.js';
import { qualifyId, type ClusterPath } from '../../shared/fleet-topics.js';
import { StoreWriteError, type StoreOptions } from '../../shared/durable/index.js';
import type { Logger } from '../../shared/log.js';
import type { FanoutResult } from '../../shared/api.js';
import { RolloutRequest, ShareReply, type RolloutStatus, type ShareOpen, type ShareOrder, type ShareReportMessage } from '../../shared/rollout.js';
import { matches } from '../../shared/selector.js';
import type { DeviceDirectory } from '../fleet/directory.js';
import { ChangeRefused, resolveChange, type ChangeEnv } from './change.js';
import { OwnedRollout, type OwnerDeps } from './owned-rollout.js';
import { RolloutFile } from './rollout-file.js';
import { Shares } from './shares.js';
import type { ShareRunner } from './share-runner.js';
import { planWaves } from './waves.js';

/** How long the owner waits for a cluster to answer an open or an order (an order is then sent again). */
const ANSWER_MS = 5_000;

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
  /** `agent` pins the agent release (null: unpinned; absent: as it was). */
  applyDesired(id: string, spec: unknown, modules: Record<string, ModuleRef>, guard?: DesiredGuard, agent?: AgentPin | null): Promise<number>;
  /** The step registry and agent releases here, for the changes of rollouts started here and of shares here. */
  env: ChangeEnv;
  /** A request down the tree (coordinator/federation: `[]` is this cluster); acks keyed by qualified id. */
  request(path: ClusterPath, target: RequestScope, op: RequestOp, timeoutMs: number): Promise<{ result: FanoutResult }>;
  /** Send a report of one of our shares up to the parent's coordinators (the owner is above). */
  publishUp(msg: ShareReportMessage): void;
  store: StoreOptions;
  log: Logger;
}

/**
 * Rollouts at this coordinator (docs/rollouts.md): the ones it owns (started here through the API, over its own
 * devices and those of every cluster below), and its shares of rollouts, its own or its parent's. An owned rollout
 * plans per cluster and talks to each cluster's share through the request ops `rollout_open`/`rollout_order` (its
 * own share too, in process); shares report up the uplink (`rollout`) or, for an owner here, in process. Everything
 * is in rollouts.json and resumed after a restart.
 */
export class Rollouts {
  private readonly owned = new Map<string, OwnedRollout>();
  readonly shares: Shares;
  private readonly watchers = new Set<(status: RolloutStatus) => void>();

  private constructor(
    private readonly deps: RolloutsDeps,
    private readonly file: RolloutFile,
  ) {
    this.shares = new Shares(
      {
        cluster: deps.cluster,
        directory: deps.directory,
        desiredOf: deps.desiredOf,
        applyDesired: deps.applyDesired,
        env: deps.env,
        report: ({ rollout, upstream }, reply) => (upstream ? deps.publishUp({ rollout, ...reply }) : this.reported([], { rollout, ...reply })),
        log: deps.log,
        now: Date.now,
      },
      file,
    );
  }

  static async open(deps: RolloutsDeps): Promise<Rollouts> {
    const file = await RolloutFile.open(deps.dataDir, deps.store);
    const r = new Rollouts(deps, file);
    for (const record of file.owned()) {
      try {
        r.owned.set(record.id, OwnedRollout.restore(record, r.ownerDeps()));
      } catch (err) {
        deps.log.error(`rollout ${record.id} cannot be resumed: ${errorMessage(err)}`);
      }
    }
    return r;
  }

  /** Resume every stored share and owned rollout (the shares first: an owner's first orders go to them). */
  async start(): Promise<void> {
    await this.shares.start();
    for (const r of this.owned.values()) await r.start();
  }

  async stop(): Promise<void> {
    this.shares.stop();
    for (const r of this.owned.values()) r.stop();
    await this.file.close();
  }

  /** Tell `listener` about every status change; returns the unsubscribe function. */
  watch(listener: (status: RolloutStatus) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** The rollouts owned here (newest first), then the shares carried out here for owners above (read-only). */
  list(): RolloutStatus[] {
    const owned = [...this.owned.values()].sort((a, b) => b.createdAt - a.createdAt).map((r) => r.status());
    return [...owned, ...this.shares.carriedForAbove().map((s) => s.status())];
  }

  get(id: string): OwnedRollout | undefined {
    return this.owned.get(id);
  }

  /** A share carried out here for an owner above, by its rollout's id. */
  shareForAbove(id: string): ShareRunner | undefined {
    return this.shares.carriedForAbove().find((s) => s.rollout === id);
  }

  /** A cluster (`path` below us, `[]` ourselves) reported on its share; only the owner takes it. */
  reported(path: ClusterPath, msg: ShareReportMessage): void {
    const rollout = this.owned.get(msg.rollout);
    if (!rollout) return; // another coordinator's rollout, passing through on its way up
    rollout.report(this.clusterKey(path), qualified(path, msg)).catch(() => {}); // logged by its queue
  }

  /**
   * Check a request, open a share at every cluster holding selected devices (each answers how many can take the
   * change), plan the waves by cluster and start. RolloutRefused (4xx/5xx) names what is wrong.
   */
  async create(body: unknown): Promise<RolloutStatus> {
    const parsed = RolloutRequest.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RolloutRefused(400, `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    }
    const def = parsed.data;
    let modules: Record<string, ModuleRef>;
    try {
      modules = await resolveChange(def.change, this.deps.env);
    } catch (err) {
      if (err instanceof ChangeRefused) throw new RolloutRefused(400, `${err.field}: ${err.message}`);
      throw err;
    }
    const selected = this.deps.directory.list().filter((d) => matches(def.selector, d));
    if (selected.length === 0) throw new RolloutRefused(400, `selector: "${def.selector.source}" matches no device of cluster ${this.deps.cluster}`);
    for (const d of selected) {
      const other = [...this.owned.values()].find((r) => r.active && r.has(d.id));
      if (other) throw new RolloutRefused(409, `selector: device ${d.id} is already in rollout ${other.id} (${other.status().state}); two active rollouts may not share a device`);
    }
    // Each cluster's own devices, by its path as the summaries name it: this cluster first, then in order.
    const byCluster = new Map<string, string[]>([[this.deps.cluster, []]]);
    for (const d of [...selected].sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0))) {
      const local = d.id.slice(d.id.lastIndexOf('/') + 1);
      byCluster.set(d.cluster, [...(byCluster.get(d.cluster) ?? []), local]);
    }
    if (byCluster.get(this.deps.cluster)!.length === 0) byCluster.delete(this.deps.cluster);
    // The owner's own file first: a data dir that cannot take a write answers 507 (a StoreWriteError) before any
    // cluster opens a share. Still needed beside the own share's 507 below: a selection with no device here opens no
    // share here, and the owner's first write would come only after every cluster below had opened its share.
    await this.file.flush();
    // A rollout that just ended may still be telling its clusters so: their shares would refuse the devices.
    await Promise.all([...this.owned.values()].filter((r) => !r.active).map((r) => r.delivered(ANSWER_MS)));
    const id = `r-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const gates = { soakMs: def.soak, maxRestarts: def.maxRestarts, offlineTimeoutMs: def.offlineTimeout, applyTimeoutMs: def.applyTimeout };
    const opened = new Map<string, ShareReply>();
    const refusals: string[] = [];
    let unstored: StoreWriteError | undefined;
    await Promise.all(
      [...byCluster].map(async ([cluster, devices]) => {
        const op = { type: 'rollout_open', rollout: id, gates, change: def.change, modules, devices } as const;
        const answer = cluster === this.deps.cluster ? await this.openOwn(op) : await this.ask(cluster, id, op);
        if (answer instanceof StoreWriteError) {
          unstored = answer;
          refusals.push(`${cluster}: ${answer.message}`);
        } else if (answer === undefined || typeof answer === 'string') refusals.push(`${cluster}: ${answer ?? `did not answer within ${ANSWER_MS / 1000} s`}`);
        else opened.set(cluster, answer);
      }),
    );
    if (refusals.length) {
      // Those that opened end at once (their devices are reported skipped there, never touched).
      const end: ShareOrder = { wave: 0, quota: 0, mode: 'end', revert: { failed: false, wave: null, all: false } };
      await Promise.all([...opened.keys()].map((cluster) => this.ask(cluster, id, { type: 'rollout_order', rollout: id, order: end })));
      // This data dir could not take the share (the disk filled after the probe above): 507, as any failed write.
      if (unstored) throw unstored;
      const conflict = refusals.some((r) => r.includes('already in rollout'));
      throw new RolloutRefused(conflict ? 409 : 503, `selector: ${refusals.sort().join('; ')}`);
    }
    // In the clusters' order (answers arrive in any order): the canary goes to the first large enough.
    const plan = planWaves([...byCluster.keys()].map((cluster) => ({ cluster, selected: opened.get(cluster)!.report.eligible })), def.canary, def.waves);
    const devices = selected.map((d) => d.id);
    const rollout = OwnedRollout.create({ id, createdAt: Date.now(), request: body, devices }, plan, opened, this.ownerDeps());
    this.owned.set(id, rollout);
    await rollout.start();
    return rollout.status();
  }

  /** This coordinator's key for a cluster `path` below it: the cluster path as device summaries name it. */
  private clusterKey(path: ClusterPath): string {
    return [this.deps.cluster, ...path].join('/');
  }

  /**
   * This cluster's own share, opened in process: a failed write stays a StoreWriteError (an ack would carry only its
   * message, a refusal); any other refusal is the string saying why, as a cluster below answers it.
   */
  private async openOwn(op: ShareOpen): Promise<ShareReply | string | StoreWriteError> {
    try {
      return await this.shares.open(op, false);
    } catch (err) {
      return err instanceof StoreWriteError ? err : errorMessage(err);
    }
  }

  /**
   * Send one rollout op to a cluster (a key of `byCluster`/the plan) and read its share's answer: the report (ids
   * qualified), a refusal (a string saying why), or undefined when it did not answer in time.
   */
  private async ask(cluster: string, rollout: string, op: RequestOp): Promise<ShareReply | string | undefined> {
    const path = cluster.split('/').slice(1);
    const { result } = await this.deps.request(path, { scope: 'cluster' }, op, ANSWER_MS);
    const ack = result.acks[qualifyId(path, rollout)];
    if (!ack) return undefined;
    if (!ack.ok) return ack.error ?? 'refused';
    const reply = ShareReply.safeParse(ack.result);
    if (!reply.success) return `an invalid answer: ${reply.error.issues[0]?.message}`;
    return qualified(path, reply.data);
  }

  private ownerDeps(): OwnerDeps {
    return {
      send: async (cluster, rollout, order) => {
        const answer = await this.ask(cluster, rollout, { type: 'rollout_order', rollout, order });
        if (typeof answer === 'string') throw new Error(answer);
        return answer;
      },
      save: (record) => this.file.saveOwned(record),
      changed: (status) => {
        for (const w of this.watchers) w(status);
      },
      log: this.deps.log,
      now: Date.now,
    };
  }
}

/** A share's report with its device ids as this coordinator names them. */
function qualified<T extends ShareReply>(path: ClusterPath, reply: T): T {
  if (path.length === 0) return reply;
  return { ...reply, report: { ...reply.report, devices: reply.report.devices.map((d) => ({ ...d, id: qualifyId(path, d.id) })) } };
}
