import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { RolloutRequest, TERMINAL_STATES, type RolloutDefinition, type RolloutStatus, type ShareOrder, type ShareReply } from '../../shared/rollout.js';
import { RolloutPlanner, type Decision, type PlannerRules, type PlannerSnapshot } from './planner.js';
import { StepQueue } from './step-queue.js';
import type { WavePlan } from './waves.js';

/** A failed order is sent again after this, doubling up to RETRY_MAX_MS, until the cluster answers. */
const RETRY_MS = 500;
const RETRY_MAX_MS = 10_000;
/** A cluster not heard from for this long is sent its order again: its answer carries its report, so a report lost
 *  on the way up (a restart of either end) costs one such period, not the rollout. */
const POLL_MS = 5_000;

/** A rollout as the coordinator that owns it persists it. */
export interface OwnedRecord {
  id: string;
  createdAt: number;
  /** The request as the operator sent it (re-parsed on load). */
  request: unknown;
  /** The selected devices (qualified ids), for the overlap check. */
  devices: string[];
  planner: PlannerSnapshot;
  /** The highest report number taken from each cluster. */
  seqs: [string, number][];
}

/** What an owned rollout needs from its coordinator. */
export interface OwnerDeps {
  /**
   * Send a cluster (a key of the plan) its order; resolves with its report (device ids qualified), undefined when
   * it did not answer (sent again later), rejects when it refused.
   */
  send(cluster: string, rollout: string, order: ShareOrder): Promise<ShareReply | undefined>;
  save(record: OwnedRecord): Promise<void>;
  /** The rollout's status changed (for watchers). */
  changed(status: RolloutStatus): void;
  log: Logger;
  now(): number;
}

export function plannerRules(def: RolloutDefinition): PlannerRules {
  return { maxFailures: def.maxFailures, windows: def.windows, rollbackScope: def.rollbackScope, offlineTimeoutMs: def.offlineTimeout, pauseTimeoutMs: 86_400_000 };
}

/**
 * A rollout at the coordinator that owns it: the pure planner, its timer, and the orders it decides carried to each
 * cluster's share (one in-flight order per cluster, the latest wins, sent again until answered), the clusters'
 * reports fed back in, and the record persisted after every step, so a restart resumes it. Its work grows with the
 * clusters, never with their devices: each cluster handles its own.
 */
export class OwnedRollout {
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  /** When each cluster last reported (this process's clock). */
  private readonly heard = new Map<string, number>();
  private stopped = false;
  private readonly steps = new StepQueue<void>(
    async () => {
      if (this.stopped) return;
      await this.deps.save({ ...this.record, planner: this.planner.snapshot(), seqs: [...this.seqs] });
      this.deps.changed(this.status());
    },
    () => {
      for (const cluster of this.outbox.keys()) void this.pump(cluster);
    },
    (err) => this.deps.log.error(`rollout ${this.id}: ${errorMessage(err)}`),
  );
  /** The order each cluster still has to acknowledge, and the clusters with a send in flight. */
  private readonly outbox = new Map<string, ShareOrder>();
  private readonly sending = new Set<string>();
  /** Waiting for every order to be answered (delivered()). */
  private readonly idle: (() => void)[] = [];

  private constructor(
    private readonly record: Omit<OwnedRecord, 'planner' | 'seqs'>,
    private readonly planner: RolloutPlanner,
    private readonly seqs: Map<string, number>,
    private readonly deviceSet: Set<string>,
    private readonly deps: OwnerDeps,
  ) {}

  /** A new rollout over `plan`, with the reports the clusters answered its opening with. */
  static create(record: Omit<OwnedRecord, 'planner' | 'seqs'>, plan: WavePlan, opened: Map<string, ShareReply>, deps: OwnerDeps): OwnedRollout {
    const def = RolloutRequest.parse(record.request);
    const planner = RolloutPlanner.create(plannerRules(def), plan, { now: deps.now });
    const r = new OwnedRollout(record, planner, new Map(), new Set(record.devices), deps);
    for (const [cluster, reply] of opened) r.take(cluster, reply);
    return r;
  }

  static restore(stored: OwnedRecord, deps: OwnerDeps): OwnedRollout {
    const { planner, seqs, ...record } = stored;
    const def = RolloutRequest.parse(record.request);
    return new OwnedRollout(record, RolloutPlanner.restore(plannerRules(def), planner, { now: deps.now }), new Map(seqs), new Set(record.devices), deps);
  }

  get id(): string {
    return this.record.id;
  }

  get createdAt(): number {
    return this.record.createdAt;
  }

  get active(): boolean {
    return !TERMINAL_STATES.includes(this.planner.state);
  }

  has(qualifiedId: string): boolean {
    return this.deviceSet.has(qualifiedId);
  }

  status(): RolloutStatus {
    return { id: this.id, ...this.planner.status() };
  }

  /** Start, or resume after a restart: every cluster is sent its current order again, then the planner's. */
  start(): Promise<void> {
    this.poller ??= setInterval(() => this.poll(), POLL_MS).unref();
    return this.run(() => {
      for (const { cluster, order } of this.planner.orders()) this.post(cluster, order);
      this.onPlanner(this.planner.start());
    });
  }

  /** While active: the current order again to every cluster silent for POLL_MS (one request per cluster, not per device). */
  private poll(): void {
    if (!this.active) return void clearInterval(this.poller);
    const now = this.deps.now();
    for (const { cluster, order } of this.planner.orders()) {
      if (this.outbox.has(cluster) || now - (this.heard.get(cluster) ?? 0) < POLL_MS) continue;
      this.post(cluster, order);
      void this.pump(cluster);
    }
  }

  /** A cluster's report (device ids qualified), from its uplink or its answer to an order. */
  report(cluster: string, reply: ShareReply): Promise<void> {
    return this.run(() => this.take(cluster, reply));
  }

  /** pause | resume | abort | rollback; a CommandError (409) when the state does not allow it. */
  command(name: 'pause' | 'resume' | 'abort' | 'rollback'): Promise<void> {
    // Checked and changed at once, so the caller's answer reflects it; carried out in order with the rest.
    const decisions = this.planner[name]();
    return this.run(() => this.onPlanner(decisions));
  }

  /** Resolves once every order decided so far was answered, or after `timeoutMs`. */
  delivered(timeoutMs: number): Promise<void> {
    if (this.outbox.size === 0 && this.sending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.poller);
  }

  /** Feed a report unless a newer one from that cluster was taken already. */
  private take(cluster: string, reply: ShareReply): void {
    this.heard.set(cluster, this.deps.now());
    if (reply.seq <= (this.seqs.get(cluster) ?? -1)) return;
    this.seqs.set(cluster, reply.seq);
    this.onPlanner(this.planner.report(cluster, reply.report));
  }

  /** Run one step; persisted (with the steps queued beside it) and told to watchers before its orders leave. */
  private run(step: () => void): Promise<void> {
    return this.steps.run(() => this.stopped || step());
  }

  private onPlanner(decisions: Decision[]): void {
    for (const d of decisions) {
      if (d.type === 'timer') this.arm(d.at);
      else if (d.type === 'order') this.post(d.cluster, d.order);
      else this.deps.log.info(`rollout ${this.id}: ${d.state}: ${d.reason}`);
    }
  }

  private post(cluster: string, order: ShareOrder): void {
    this.outbox.set(cluster, order);
  }

  /** Deliver the cluster's latest order, again and again with a growing pause, until it answers or a newer one replaces it. */
  private async pump(cluster: string): Promise<void> {
    if (this.sending.has(cluster)) return;
    this.sending.add(cluster);
    let pause = RETRY_MS;
    try {
      for (;;) {
        const order = this.outbox.get(cluster);
        if (!order || this.stopped) return;
        let reply: ShareReply | undefined;
        try {
          reply = await this.deps.send(cluster, this.id, order);
        } catch (err) {
          // Refused (e.g. the cluster lost its share): sending it again changes nothing; its silence times out.
          this.deps.log.warn(`rollout ${this.id}: ${cluster} refused its order: ${errorMessage(err)}`);
          if (this.outbox.get(cluster) === order) this.outbox.delete(cluster);
          continue;
        }
        if (reply) {
          if (this.outbox.get(cluster) === order) this.outbox.delete(cluster);
          this.report(cluster, reply).catch(() => {}); // logged by the queue
          pause = RETRY_MS;
          continue;
        }
        await new Promise((r) => setTimeout(r, pause).unref());
        pause = Math.min(pause * 2, RETRY_MAX_MS);
      }
    } finally {
      this.sending.delete(cluster);
      if (this.outbox.size === 0 && this.sending.size === 0) for (const done of this.idle.splice(0)) done();
    }
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    // setTimeout holds at most ~24.8 days; a later deadline is re-armed when this one fires.
    this.timer = setTimeout(() => this.run(() => this.onPlanner(this.planner.tick())).catch(() => {}), Math.min(Math.max(0, at - this.deps.now()), 2 ** 31 - 1));
  }
}
