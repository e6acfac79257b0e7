import type { AgentPin } from '../../shared/agent-release.js';
import type { DesiredGuard, DesiredMessage, ModuleRef } from '../../shared/desired.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { RolloutStatus, ShareOpen, ShareOrder, ShareReply } from '../../shared/rollout.js';
import { desiredFor, revertsAgent, skipReason, type Change, type ChangeEnv, type DeviceView } from './change.js';
import { ShareCore, type Decision, type Observation, type ShareSnapshot } from './share-core.js';
import { shareStatus } from './share-status.js';
import { StepQueue } from './step-queue.js';

/** Reports go out at most this often per share (the last state always goes): the owner's work per cluster stays bounded. */
const REPORT_MS = 200;
/** After a restart, how long a device has to be heard again before "offline" counts against its soak. */
const RESTART_GRACE_MS = 30_000;

/** A share as its coordinator persists it. */
export interface ShareRecord {
  rollout: string;
  /** The owner is above: reports go up the uplink (else to the owner in this process). */
  upstream: boolean;
  change: Change;
  /** The modules the change brings, as the owner resolved them. */
  modules: Record<string, ModuleRef>;
  share: ShareSnapshot;
  /** Each updated device's desired state before the rollout changed it (null: it had none). */
  previous: [string, DesiredMessage | null][];
  /** The last report's number (time-based, so it keeps growing across restarts). */
  seq: number;
}

/** What a share needs from its coordinator. */
export interface ShareDeps {
  desiredOf(id: string): DesiredMessage | undefined;
  /**
   * With a guard, the agent reverts by itself if the tree fails within `windowMs` (device-local rollback); `agent`
   * pins the agent release (null: unpinned; absent: as it was).
   */
  applyDesired(id: string, spec: unknown, modules: Record<string, ModuleRef>, guard?: DesiredGuard, agent?: AgentPin | null): Promise<number>;
  /** What the gate sees of a device, for this change. */
  observe(id: string, change: Change): Observation;
  device(id: string): DeviceView;
  env: ChangeEnv;
  save(record: ShareRecord): Promise<void>;
  /** The share's progress, once the state it reflects is on disk. */
  report(share: Pick<ShareRecord, 'rollout' | 'upstream'>, reply: ShareReply): void;
  log: Logger;
  now(): number;
}

/**
 * One cluster's share of a rollout, carried out for its own devices: the pure ShareCore with its timer, the desired
 * states it decides (through coordinator/desired), each device's previous state for a rollback, and the record
 * persisted after every batch of steps (step-queue.ts); what a batch decided (desired states, reverts, the report)
 * leaves only once its state is on disk.
 */
export class ShareRunner {
  private timer: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly steps = new StepQueue<ShareReply>(
    async () => {
      if (!this.stopped) await this.save();
      return this.reply();
    },
    () => {
      // What the batch decided leaves once it is on disk: the devices' previous states are, before they change.
      for (const id of this.toApply.splice(0)) void this.apply(id);
      for (const id of this.toRevert.splice(0)) void this.revert(id);
      this.flush();
    },
    (err) => this.deps.log.error(`rollout ${this.rollout}: ${errorMessage(err)}`),
  );
  /** Devices the current batch decided to update, or to give back their previous state (sent after its commit). */
  private readonly toApply: string[] = [];
  private readonly toRevert: string[] = [];
  /** Devices a restored share sends the change again: perhaps it reached them before the restart. */
  private readonly resumed = new Set<string>();
  /** What the last save wrote of the share (its state and how many previous states): unchanged, nothing to write. */
  private saved = '';
  /** A changed report waits to be sent. */
  private dirty = true;
  private sentAt = 0;

  private constructor(
    private readonly core: ShareCore,
    private readonly record: Omit<ShareRecord, 'share' | 'previous'>,
    private readonly previous: Map<string, DesiredMessage | null>,
    private readonly deps: ShareDeps,
  ) {}

  /** A new share over the devices the owner chose; a device that cannot take the change is skipped with the reason. */
  static create(open: ShareOpen, upstream: boolean, deps: ShareDeps): ShareRunner {
    const candidates = [...new Set(open.devices)].map((id) => {
      const skip = skipReason(open.change, deps.device(id), deps.env);
      return skip ? { id, skip } : { id };
    });
    const core = ShareCore.create(open.gates, candidates, { now: deps.now });
    return new ShareRunner(core, { rollout: open.rollout, upstream, change: open.change, modules: open.modules, seq: 0 }, new Map(), deps);
  }

  static restore(record: ShareRecord, deps: ShareDeps): ShareRunner {
    const core = ShareCore.restore(record.share, { now: deps.now }, RESTART_GRACE_MS);
    const { share, previous, ...rest } = record;
    const runner = new ShareRunner(core, rest, new Map(previous), deps);
    // Decided before the restart but perhaps never sent: sent (again) once resumed, unless it was (apply()).
    const unsent = share.devices.filter((d) => d.state === 'updating' && d.revision === undefined).map((d) => d.id);
    runner.toApply.push(...unsent);
    for (const id of unsent) runner.resumed.add(id);
    return runner;
  }

  get rollout(): string {
    return this.record.rollout;
  }

  /** The owner is a coordinator above. */
  get upstream(): boolean {
    return this.record.upstream;
  }

  /** As this cluster's API shows it (share-status.ts). */
  status(): RolloutStatus {
    return shareStatus(this.record.rollout, this.core.mode, this.core.report());
  }

  /** Still taking orders (the owner has not ended it). */
  get active(): boolean {
    return this.core.mode !== 'end';
  }

  has(id: string): boolean {
    return this.core.has(id);
  }

  /** Begin, or resume after a restart: what each device looks like now; the current report goes out. */
  start(): Promise<ShareReply> {
    return this.run(() => {
      for (const d of this.core.report().devices) this.onCore(this.core.observe(d.id, this.deps.observe(d.id, this.record.change)));
      this.onCore(this.core.tick());
    });
  }

  /** The owner's order (idempotent: the same order again changes nothing); answered with the current report. */
  order(order: ShareOrder): Promise<ShareReply> {
    return this.run(() => this.onCore(this.core.setOrder(order)));
  }

  /** The current report (an owner asking again, e.g. a repeated open). */
  current(): Promise<ShareReply> {
    return this.run(() => {});
  }

  /** A device of this share changed at this coordinator. */
  observe(id: string): void {
    this.later(() => this.onCore(this.core.observe(id, this.deps.observe(id, this.record.change))));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.reportTimer);
  }

  /** One step; resolves with the report once its state is on disk (also sent, at most every REPORT_MS). */
  private run(step: () => void): Promise<ShareReply> {
    return this.steps.run(() => this.stopped || step());
  }

  /** The same, for steps nobody waits on (a failure is logged by the queue). */
  private later(step: () => void): void {
    this.run(step).catch(() => {});
  }

  /**
   * Persist the share if a step changed it. Most steps change nothing durable (a health report from a device that is
   * not in a wave yet, or that says nothing new): the state they leave is the one already on disk, and rewriting
   * rollouts.json for them queued a wave's real commits (and its devices' registry writes) behind useless fsyncs.
   */
  private async save(): Promise<void> {
    const record = this.stored();
    // `previous` only grows, with a device going to updating; `seq` is time-based, so an older one on disk is fine.
    const durable = JSON.stringify(record.share) + record.previous.length;
    if (durable === this.saved) return;
    await this.deps.save(record);
    this.saved = durable;
  }

  private stored(): ShareRecord {
    return { ...this.record, share: this.core.snapshot(), previous: [...this.previous] };
  }

  /** The current report, numbered (time-based and growing, so numbers never repeat after a restart). */
  private reply(): ShareReply {
    this.record.seq = Math.max(this.record.seq + 1, this.deps.now());
    return { seq: this.record.seq, report: this.core.report() };
  }

  /**
   * Send the report if it changed: at once when no device of the share is updating any more (the owner may be
   * waiting on it to gate the wave), else at most every REPORT_MS.
   */
  private flush(): void {
    if (!this.dirty || this.stopped) return;
    const reply = this.reply();
    const settled = reply.report.waves.every((w) => w.updating === 0);
    const wait = settled ? 0 : this.sentAt + REPORT_MS - this.deps.now();
    if (wait > 0) {
      this.reportTimer ??= setTimeout(() => {
        this.reportTimer = undefined;
        this.flush();
      }, wait);
      return;
    }
    clearTimeout(this.reportTimer);
    this.reportTimer = undefined;
    this.dirty = false;
    this.sentAt = this.deps.now();
    // The state it reflects was committed by the batch before this flush.
    this.deps.report(this.record, reply);
  }

  private onCore(decisions: Decision[]): void {
    for (const d of decisions) {
      if (d.type === 'timer') this.arm(d.at);
      else if (d.type === 'report') this.dirty = true;
      else if (d.type === 'apply') {
        if (!this.previous.has(d.device)) this.previous.set(d.device, this.deps.desiredOf(d.device) ?? null);
        this.toApply.push(d.device);
      }
      else this.toRevert.push(d.device);
    }
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    // setTimeout holds at most ~24.8 days; a later deadline is re-armed when this one fires.
    this.timer = setTimeout(() => this.later(() => this.onCore(this.core.tick())), Math.min(Math.max(0, at - this.deps.now()), 2 ** 31 - 1));
  }

  /** Give the device the change (its previous desired state is on disk by now). */
  private async apply(id: string): Promise<void> {
    const { soakMs, applyTimeoutMs } = this.core.gates;
    let revision: number;
    // Killed between storing the device's new desired state and recording that: it has a newer one than the state
    // kept for its rollback, the change (a step bump would refuse it again: "already runs"). Recorded as applied.
    const current = this.deps.desiredOf(id);
    if (this.resumed.delete(id) && current && current.revision > (this.previous.get(id)?.revision ?? 0)) {
      return this.later(() => this.onCore(this.core.applied(id, current.revision)));
    }
    try {
      const desired = desiredFor(this.record.change, this.record.modules, this.deps.device(id), this.deps.env, applyTimeoutMs);
      // The device's own probation: as long as the coordinator waits for its verdict (an agent change has the
      // launcher's trial instead).
      const guard = desired.guard ? { windowMs: soakMs + applyTimeoutMs } : undefined;
      revision = await this.deps.applyDesired(id, desired.spec, desired.modules, guard, desired.agent);
    } catch (err) {
      return this.later(() => this.onCore(this.core.applyFailed(id, errorMessage(err))));
    }
    this.later(() => this.onCore(this.core.applied(id, revision)));
  }

  /** Back to the desired state it had before the rollout (an empty tree if it had none). */
  private async revert(id: string): Promise<void> {
    const before = this.previous.get(id);
    try {
      // An agent change goes back to the agent pinned before (none: unpinned, the device keeps what it runs).
      const agent = revertsAgent(this.record.change) ? (before?.agent ?? null) : undefined;
      if (before) await this.deps.applyDesired(id, before.spec, before.modules, undefined, agent);
      else if (before === null) await this.deps.applyDesired(id, { id: 'root', children: [] }, {}, undefined, agent);
    } catch (err) {
      this.deps.log.error(`rollout ${this.rollout}: could not roll back ${id}: ${errorMessage(err)}`);
    }
  }
}
