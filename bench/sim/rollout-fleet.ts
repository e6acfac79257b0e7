import { RolloutPlanner, type Decision as PlannerDecision, type PlannerRules } from '../../coordinator/rollouts/planner.js';
import { ShareCore, type Decision as ShareDecision, type Observation, type ShareGates } from '../../coordinator/rollouts/share-core.js';
import { planWaves } from '../../coordinator/rollouts/waves.js';
import type { CountOrPercent, ShareReport } from '../../shared/rollout.js';
import { parseWindow } from '../../shared/window.js';

/** How a simulated device reacts to the new revision. */
export type Behaviour = 'healthy' | 'crashes' | 'fails-to-start' | 'rolls-back' | 'never-runs';

export interface SimDevice {
  id: string;
  cluster: string;
  online: boolean;
  behaviour: Behaviour;
  revision: number;
  restarts: number;
  /** Revisions this device ever ran (the "no device outside the canary ever ran it" check). */
  ran: Set<number>;
  obs: Observation;
}

export interface FleetOptions {
  /** cluster → number of devices (ids `<cluster>-<n>`), in order. */
  clusters: Record<string, number>;
  canary?: CountOrPercent;
  waves?: number[];
  gates?: Partial<ShareGates>;
  maxFailures?: CountOrPercent;
  windows?: string[];
  rollbackScope?: 'failed' | 'wave';
  pauseTimeoutMs?: number;
  behaviour?: (id: string) => Behaviour;
  offline?: string[];
  /**
   * Deliver each cluster's latest report once the work in hand is done, as an executor sending at most one report
   * per interval does, instead of every report at once (the default, which tests read step by step).
   */
  coalesceReports?: boolean;
}

/** The revision the rollout gives; the devices start on revision 1. */
export const NEW = 2;

/**
 * A whole rollout run in memory with a fake clock: the root's RolloutPlanner and one ShareCore per cluster,
 * wired as the coordinators wire them (orders down, reports up), and simulated devices that apply, run, crash or
 * vanish as told. Decisions are carried out in order through one queue; timers fire only when time advances.
 * Every decision is logged as a short line so tests compare sequences; the root's own work (calls into the planner
 * and the time spent in them) is counted for bench/rollout.ts.
 */
export class Fleet {
  now = Date.parse('2026-06-01T00:00:00Z');
  readonly clock = { now: () => this.now };
  planner: RolloutPlanner;
  readonly shares = new Map<string, ShareCore>();
  readonly devices = new Map<string, SimDevice>();
  readonly log: string[] = [];
  /** Owner ('root' or a cluster) → time of its one timer. */
  readonly timers = new Map<string, number>();
  /** Clusters whose link to the root is down: orders and reports are lost. */
  readonly cut = new Set<string>();
  /** The root's work: calls into its planner, orders it sent, milliseconds spent in the planner. */
  readonly rootWork = { calls: 0, orders: 0, ms: 0 };
  readonly rules: PlannerRules;
  private readonly queue: (() => void)[] = [];
  private readonly pendingReports = new Map<string, ShareReport>();

  constructor(readonly opts: FleetOptions) {
    const gates: ShareGates = { soakMs: 0, maxRestarts: 0, offlineTimeoutMs: 600_000, applyTimeoutMs: 60_000, ...opts.gates };
    for (const [cluster, n] of Object.entries(opts.clusters)) {
      const ids: string[] = [];
      for (let i = 1; i <= n; i++) {
        const id = `${cluster}-${i}`;
        ids.push(id);
        const online = !opts.offline?.includes(id);
        this.devices.set(id, { id, cluster, online, behaviour: opts.behaviour?.(id) ?? 'healthy', revision: 1, restarts: 0, ran: new Set([1]), obs: { online, revision: 1, allRunning: true, restartsTotal: 0 } });
      }
      this.shares.set(cluster, ShareCore.create(gates, ids.map((id) => ({ id })), this.clock));
    }
    // Cores learn each device's state before the rollout starts, as a coordinator knows its devices.
    for (const d of this.devices.values()) this.shares.get(d.cluster)!.observe(d.id, d.obs);
    this.rules = {
      maxFailures: opts.maxFailures ?? { count: 0 },
      windows: (opts.windows ?? []).map(parseWindow),
      rollbackScope: opts.rollbackScope ?? 'failed',
      offlineTimeoutMs: gates.offlineTimeoutMs,
      pauseTimeoutMs: opts.pauseTimeoutMs ?? 86_400_000,
    };
    const plan = planWaves(
      Object.entries(opts.clusters).map(([cluster, selected]) => ({ cluster, selected })),
      opts.canary ?? { count: 1 },
      opts.waves ?? [10, 50, 100],
    );
    this.planner = RolloutPlanner.create(this.rules, plan, this.clock);
  }

  start(): this {
    return this.root(() => this.planner.start());
  }

  /** Replace the root planner by one restored from its snapshot (a restart of the owning coordinator). */
  restartRoot(): this {
    this.timers.delete('root');
    this.planner = RolloutPlanner.restore(this.rules, this.planner.snapshot(), this.clock);
    return this.start();
  }

  /** Replace a cluster's core by one restored from its snapshot; device observations arrive again. */
  restartCluster(cluster: string): this {
    this.timers.delete(cluster);
    const core = ShareCore.restore(this.shares.get(cluster)!.snapshot(), this.clock);
    this.shares.set(cluster, core);
    for (const d of this.devices.values()) if (d.cluster === cluster) this.share(cluster, () => core.observe(d.id, d.obs));
    return this;
  }

  root(fn: () => PlannerDecision[]): this {
    this.queue.push(() => this.carryOutRoot(this.timedRoot(fn)));
    return this.drain();
  }

  private timedRoot(fn: () => PlannerDecision[]): PlannerDecision[] {
    const t0 = performance.now();
    const out = fn();
    this.rootWork.ms += performance.now() - t0;
    this.rootWork.calls++;
    return out;
  }

  share(cluster: string, fn: () => ShareDecision[]): this {
    this.queue.push(() => this.carryOutShare(cluster, fn()));
    return this.drain();
  }

  /** Move the clock, firing every timer that falls due on the way, in time order. */
  advance(ms: number): this {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers].filter(([, at]) => at <= until).sort((a, b) => a[1] - b[1])[0];
      if (!due) break;
      const [owner, at] = due;
      this.timers.delete(owner);
      this.now = Math.max(this.now, at);
      if (owner === 'root') this.root(() => this.planner.tick());
      else this.share(owner, () => this.shares.get(owner)!.tick());
    }
    this.now = until;
    return this;
  }

  /** Advance until the rollout is terminal, failing after `limitMs` of fake time. */
  runToEnd(limitMs = 7 * 86_400_000): this {
    const stop = this.now + limitMs;
    while (!['succeeded', 'halted', 'aborted', 'rolled_back'].includes(this.planner.state)) {
      const next = Math.min(...this.timers.values());
      if (next === Infinity || next > stop) throw new Error(`rollout wedged in ${this.planner.state}: ${this.planner.status().reason}`);
      this.advance(next - this.now);
    }
    return this;
  }

  setOnline(id: string, online: boolean): this {
    const d = this.devices.get(id)!;
    d.online = online;
    return this.observe(d, { online });
  }

  take(): string[] {
    return this.log.splice(0);
  }

  /** Devices that ever ran the new revision. */
  ranNew(): string[] {
    return [...this.devices.values()].filter((d) => d.ran.has(NEW)).map((d) => d.id);
  }

  private observe(d: SimDevice, change: Partial<Observation>): this {
    d.obs = { ...d.obs, ...change };
    return this.share(d.cluster, () => this.shares.get(d.cluster)!.observe(d.id, d.obs));
  }

  private drain(): this {
    for (;;) {
      while (this.queue.length) this.queue.shift()!();
      if (this.pendingReports.size === 0) return this;
      for (const [cluster, report] of this.pendingReports) this.queue.push(() => this.carryOutRoot(this.timedRoot(() => this.planner.report(cluster, report))));
      this.pendingReports.clear();
    }
  }

  private carryOutRoot(decisions: PlannerDecision[]): void {
    for (const d of decisions) {
      if (d.type === 'timer') this.timers.set('root', d.at);
      else if (d.type === 'state') this.log.push(`state ${d.state}: ${d.reason}`);
      else {
        this.rootWork.orders++;
        const { failed, wave, all } = d.order.revert;
        const revert = [failed ? 'failed' : '', wave !== null ? `wave${wave}` : '', all ? 'all' : ''].filter(Boolean).join(',');
        this.log.push(`order ${d.cluster} wave=${d.order.wave} quota=${d.order.quota} ${d.order.mode}${revert ? ` revert=${revert}` : ''}`);
        if (!this.cut.has(d.cluster)) this.queue.push(() => this.carryOutShare(d.cluster, this.shares.get(d.cluster)!.setOrder(d.order)));
      }
    }
  }

  private carryOutShare(cluster: string, decisions: ShareDecision[]): void {
    const core = this.shares.get(cluster)!;
    for (const d of decisions) {
      if (d.type === 'timer') this.timers.set(cluster, d.at);
      else if (d.type === 'report') {
        if (this.cut.has(cluster)) continue;
        const report = d.report;
        if (this.opts.coalesceReports) this.pendingReports.set(cluster, report);
        else this.queue.push(() => this.carryOutRoot(this.timedRoot(() => this.planner.report(cluster, report))));
      } else if (d.type === 'apply') {
        this.log.push(`apply ${d.device}`);
        const dev = this.devices.get(d.device)!;
        this.queue.push(() => this.carryOutShare(cluster, core.applied(dev.id, NEW)));
        this.queue.push(() => this.run(dev, NEW));
      } else {
        this.log.push(`revert ${d.device}`);
        const dev = this.devices.get(d.device)!;
        this.queue.push(() => {
          dev.revision = NEW + 1;
          this.observe(dev, { revision: NEW + 1, allRunning: true });
        });
      }
    }
  }

  /** The device takes its new desired state and behaves as its script says. */
  private run(dev: SimDevice, revision: number): void {
    if (!dev.online) return;
    switch (dev.behaviour) {
      case 'healthy':
        dev.ran.add(revision);
        dev.revision = revision;
        return void this.observe(dev, { revision, allRunning: true });
      case 'crashes':
        dev.ran.add(revision);
        dev.revision = revision;
        dev.restarts += 3;
        return void this.observe(dev, { revision, allRunning: false, restartsTotal: dev.restarts });
      case 'fails-to-start':
        return void this.observe(dev, { failed: { revision, reason: 'module fetch failed: sha256 mismatch' } });
      case 'rolls-back':
        dev.ran.add(revision);
        return void this.observe(dev, { revision: 1, allRunning: true, rolledBack: { revision, reason: 'root supervisor gave up (reached_max_restart_intensity)' } });
      case 'never-runs':
        return;
    }
  }
}
