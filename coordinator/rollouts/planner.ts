import { formatDuration } from '../../shared/duration.js';
import { NO_REVERT, TERMINAL_STATES, type CountOrPercent, type Revert, type ShareOrder, type ShareReport, type RolloutDevice, type RolloutState, type RolloutStatus, type WaveCounts, type WaveState } from '../../shared/rollout.js';
import { windowState, type Window } from '../../shared/window.js';
import type { Clock } from './share-core.js';
import { countOf, type WavePlan } from './waves.js';

/**
 * A rollout at the coordinator that owns it, as a pure state machine over clusters, never over devices one by one:
 * it tells each cluster its share of the current wave (`ShareOrder`), sums what the clusters report, and decides
 * gates, halts, rollbacks, windows and the lifecycle (running ↔ paused → succeeded | halted | aborted | rolled_back).
 * Each cluster's own devices are handled by its ShareCore. Every waiting state has a timeout and a reason.
 */

export interface PlannerRules {
  maxFailures: CountOrPercent;
  windows: readonly Window[];
  rollbackScope: 'failed' | 'wave';
  /** A cluster that sends nothing for this long counts its unsettled devices as skipped (as offline devices are). */
  offlineTimeoutMs: number;
  /** A pause longer than this aborts the rollout. */
  pauseTimeoutMs: number;
}

export type Decision =
  /** Send this order to the cluster (only sent when it changed). */
  | { type: 'order'; cluster: string; order: ShareOrder }
  /** The rollout changed state, or the reason shown for it changed: persist and tell watchers. */
  | { type: 'state'; state: RolloutState; reason: string }
  /** Call `tick()` at this time (replaces any earlier timer). */
  | { type: 'timer'; at: number };

export class CommandError extends Error {
  override name = 'CommandError';
}

interface ClusterView {
  cluster: string;
  quotas: number[];
  order?: ShareOrder;
  /** When it was last sent an order or last reported. */
  heardAt: number;
  report?: ShareReport;
}

export interface PlannerSnapshot {
  state: RolloutState;
  reason: string;
  since: number;
  wave: number;
  waves: WaveState[];
  sizes: number[];
  revert: Revert;
  clusters: ClusterView[];
}

export class RolloutPlanner {
  private constructor(
    private readonly rules: PlannerRules,
    private readonly clock: Clock,
    private readonly s: PlannerSnapshot,
  ) {}

  static create(rules: PlannerRules, plan: WavePlan, clock: Clock): RolloutPlanner {
    const now = clock.now();
    return new RolloutPlanner(rules, clock, {
      state: 'running',
      reason: 'starting the canary',
      since: now,
      wave: 0,
      waves: plan.sizes.map((): WaveState => 'waiting'),
      sizes: plan.sizes,
      revert: NO_REVERT,
      clusters: plan.clusters.map((c) => ({ cluster: c.cluster, quotas: c.quotas, heardAt: now })),
    });
  }

  static restore(rules: PlannerRules, snapshot: PlannerSnapshot, clock: Clock): RolloutPlanner {
    return new RolloutPlanner(rules, clock, structuredClone(snapshot));
  }

  snapshot(): PlannerSnapshot {
    return structuredClone(this.s);
  }

  get state(): RolloutState {
    return this.s.state;
  }

  /** The order each cluster was last given: the owner sends them all again after its restart (orders are idempotent). */
  orders(): { cluster: string; order: ShareOrder }[] {
    return this.s.clusters.flatMap((c) => (c.order ? [{ cluster: c.cluster, order: c.order }] : []));
  }

  /** Begin (or, after a restart, resume): orders to every cluster as the current state says. */
  start(): Decision[] {
    return this.settle([]);
  }

  report(cluster: string, report: ShareReport): Decision[] {
    const view = this.s.clusters.find((c) => c.cluster === cluster);
    if (!view) return [];
    view.report = report;
    view.heardAt = this.clock.now();
    return this.settle([]);
  }

  tick(): Decision[] {
    return this.settle([]);
  }

  pause(): Decision[] {
    this.require(['running'], 'pause');
    return this.settle(this.transition('paused', 'paused by the operator'));
  }

  resume(): Decision[] {
    this.require(['paused'], 'resume');
    return this.settle(this.transition('running', 'resumed by the operator'));
  }

  abort(): Decision[] {
    this.require(['running', 'paused'], 'abort');
    return this.settle(this.transition('aborted', 'aborted by the operator'));
  }

  /** Every device the rollout touched goes back to its previous desired state. */
  rollback(): Decision[] {
    this.require(['running', 'paused', 'succeeded', 'halted', 'aborted'], 'roll back');
    this.s.revert = { failed: true, wave: null, all: true };
    return this.settle(this.transition('rolled_back', 'rolled back by the operator'));
  }

  /** The status contract of issue 12 (without the id, which the owner adds). */
  status(): Omit<RolloutStatus, 'id'> {
    const waves = this.s.sizes.map((size, index) => {
      const c = this.counts(index);
      return { index, state: this.s.waves[index], devices: Math.max(size, c.assigned), passed: c.healthy, failed: c.failed + c.rolled_back };
    });
    const devices: RolloutDevice[] = this.s.clusters.flatMap((c) => c.report?.devices ?? []);
    return { state: this.s.state, reason: this.s.reason, waves, devices };
  }

  private require(states: RolloutState[], what: string): void {
    if (!states.includes(this.s.state)) throw new CommandError(`cannot ${what} a rollout that is ${this.s.state.replace('_', ' ')}`);
  }

  private transition(state: RolloutState, reason: string): Decision[] {
    if (state === this.s.state && reason === this.s.reason) return [];
    this.s.state = state;
    this.s.reason = reason;
    this.s.since = this.clock.now();
    return [{ type: 'state', state, reason }];
  }

  /** The counts of wave k summed over the clusters that reported on it. */
  private counts(k: number): WaveCounts {
    const sum: WaveCounts = { assigned: 0, pending: 0, updating: 0, healthy: 0, failed: 0, rolled_back: 0, skipped: 0 };
    for (const c of this.s.clusters) {
      const w = c.report?.waves[k];
      if (!w) continue;
      for (const key of Object.keys(sum) as (keyof WaveCounts)[]) sum[key] += w[key];
    }
    return sum;
  }

  /** Has the cluster done its part of wave k (every device it took has a verdict, or waits offline)? */
  private clusterSettled(c: ClusterView, k: number, now: number): 'done' | 'busy' | 'silent' {
    const share = c.quotas[k] - (k === 0 ? 0 : c.quotas[k - 1]);
    if (share === 0) return 'done';
    const r = c.report;
    if (r && r.wave >= k) {
      const took = r.waves.slice(0, k + 1).reduce((n, w) => n + w.assigned, 0);
      const w = r.waves[k];
      const full = took >= Math.min(c.quotas[k], r.eligible);
      if (full && (w?.updating ?? 0) === 0) return 'done';
    }
    return now - c.heardAt >= this.rules.offlineTimeoutMs ? 'silent' : 'busy';
  }

  private settle(out: Decision[]): Decision[] {
    const now = this.clock.now();
    let wake = Infinity;
    if (this.s.state === 'paused') {
      const deadline = this.s.since + this.rules.pauseTimeoutMs;
      if (now >= deadline) out.push(...this.transition('aborted', `paused for more than ${formatDuration(this.rules.pauseTimeoutMs)}`));
      else wake = deadline;
    }
    if (this.s.state === 'running') wake = Math.min(wake, this.run(now, out));
    this.sendOrders(out);
    if (wake !== Infinity) out.push({ type: 'timer', at: wake });
    return out;
  }

  /** The running state: start the current wave inside a window, gate it, move on, or wait (devices, clusters, window). */
  private run(now: number, out: Decision[]): number {
    const last = this.s.waves.length - 1;
    for (;;) {
      const k = this.s.wave;
      const win = windowState(this.rules.windows, now);
      if (this.s.waves[k] === 'waiting') {
        // Waves start only inside a window.
        if (!win.open) {
          if (win.opensAt === null) return void out.push(...this.transition('halted', 'no window opens within a year')), Infinity;
          out.push(...this.transition('running', `${waveName(k)} waits for a window, opening at ${iso(win.opensAt)}`));
          return win.opensAt;
        }
        this.s.waves[k] = 'running';
        // Silence of a cluster counts from the start of its wave.
        for (const v of this.s.clusters) v.heardAt = Math.max(v.heardAt, now);
      }
      const c = this.counts(k);
      const failures = c.failed + c.rolled_back;
      const allowed = countOf(this.rules.maxFailures, this.s.sizes[k]);
      if (failures > allowed) {
        this.s.waves[k] = 'failed';
        this.s.revert = { failed: true, wave: this.rules.rollbackScope === 'wave' ? k : null, all: false };
        const failing = this.s.clusters.flatMap((v) => v.report?.devices ?? []).filter((d) => d.wave === k && (d.state === 'failed' || d.state === 'rolled_back'));
        const examples = failing.slice(0, 3).map((d) => `${d.id}: ${d.reason ?? d.state}`).join('; ');
        out.push(...this.transition('halted', `${waveName(k)}: ${failures} of ${this.s.sizes[k]} devices failed (at most ${allowed})${examples ? ` — ${examples}` : ''}`));
        return Infinity;
      }
      const settled = this.s.clusters.map((v) => this.clusterSettled(v, k, now));
      const silent = this.s.clusters.filter((_, i) => settled[i] === 'silent').map((v) => v.cluster);
      const busy = this.s.clusters.filter((_, i) => settled[i] === 'busy');
      if (busy.length === 0 && k < last) {
        this.s.waves[k] = 'passed';
        this.s.wave = k + 1;
        continue;
      }
      // The last wave ends once no device waits offline either (each is caught up or skipped after its timeout).
      const waitingOffline = k === last && busy.length === 0 ? this.s.clusters.filter((v) => !silent.includes(v.cluster) && this.pendingOf(v) > 0) : [];
      if (busy.length === 0 && waitingOffline.length === 0) {
        this.s.waves[k] = 'passed';
        const total = this.s.sizes.reduce((a, b) => a + b, 0);
        const healthy = this.s.waves.reduce((n, _, i) => n + this.counts(i).healthy, 0);
        const note = silent.length ? `; no word from ${silent.join(', ')} for ${formatDuration(this.rules.offlineTimeoutMs)}` : '';
        out.push(...this.transition('succeeded', `${healthy} of ${total} devices healthy${note}`));
        return Infinity;
      }
      // The reason says what it waits for; progress itself is in the wave counts.
      const parts = [`${waveName(k)} running`];
      if (!win.open) parts.push(`in-flight devices finish, the rest waits for a window opening at ${win.opensAt === null ? 'never' : iso(win.opensAt)}`);
      if (silent.length) parts.push(`no word from ${silent.join(', ')} for ${formatDuration(this.rules.offlineTimeoutMs)}`);
      if (busy.length === 0) parts.push(`waiting up to ${formatDuration(this.rules.offlineTimeoutMs)} for ${this.s.clusters.reduce((n, v) => n + this.pendingOf(v), 0)} offline device(s)`);
      out.push(...this.transition('running', parts.join('; ')));
      let wake = Math.min(...[...busy, ...waitingOffline].map((v) => v.heardAt + this.rules.offlineTimeoutMs));
      const edge = win.open ? win.closesAt : win.opensAt;
      if (edge !== null) wake = Math.min(wake, edge);
      return wake;
    }
  }

  private pendingOf(v: ClusterView): number {
    return (v.report?.waves ?? []).reduce((n, w) => n + w.pending, 0);
  }

  /** What each cluster should be doing now; only changes are sent. */
  private sendOrders(out: Decision[]): void {
    const now = this.clock.now();
    const terminal = TERMINAL_STATES.includes(this.s.state);
    const win = windowState(this.rules.windows, now);
    for (const v of this.s.clusters) {
      const k = this.s.wave;
      const mode = terminal ? 'end' : this.s.state === 'running' && this.s.waves[k] === 'running' && win.open ? 'run' : 'hold';
      const order: ShareOrder = { wave: k, quota: v.quotas[k], mode, revert: this.s.revert };
      if (JSON.stringify(order) === JSON.stringify(v.order)) continue;
      v.order = order;
      out.push({ type: 'order', cluster: v.cluster, order });
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function waveName(k: number): string {
  return k === 0 ? 'canary' : `wave ${k}`;
}
