import { formatDuration } from '../../shared/duration.js';
import { NO_REVERT, type DeviceRolloutState, type RolloutDevice, type ShareGates, type ShareOrder, type ShareReport, type WaveCounts } from '../../shared/rollout.js';

/**
 * One cluster's share of a rollout, as a pure state machine: the root tells the cluster how many of its selected
 * devices are in the rollout (`ShareOrder`), and this core picks them, decides when each gets the change, gates
 * each device on its health, and reports counts up. Inputs are method calls; each returns decisions for the
 * executor (coordinator/rollouts/) to carry out. Time comes from the injected clock (wall-clock milliseconds, so
 * deadlines survive a restart in the persisted snapshot).
 */

export interface Clock {
  now(): number;
}

export type { ShareGates };

/** A device the selector chose; `skip` says why it cannot take the change (a step bump of a step it does not run). */
export interface Candidate {
  id: string;
  skip?: string;
}

/** What the cluster's coordinator knows of a device now, from its status, health and events. */
export interface Observation {
  online: boolean;
  /** The desired-state revision the device runs, if it reported one. */
  revision: number | null;
  /** Every child of its tree running. */
  allRunning: boolean;
  restartsTotal: number;
  /** The agent could not apply this revision (`desired_failed`). */
  failed?: { revision: number; reason: string };
  /** The agent reverted this revision by itself (device-local rollback). */
  rolledBack?: { revision: number; reason: string };
}

export type Decision =
  /** Give the device the change; answer with `applied(id, revision)` or `applyFailed(id, reason)`. */
  | { type: 'apply'; device: string }
  /** Give the device back its previous desired state. */
  | { type: 'revert'; device: string }
  /** Progress changed: send it up. */
  | { type: 'report'; report: ShareReport }
  /** Call `tick()` at this time (replaces any earlier timer). */
  | { type: 'timer'; at: number };

export interface ShareDevice {
  id: string;
  /** Set once the device is in the rollout. */
  wave?: number;
  state: DeviceRolloutState;
  reason?: string;
  since: number;
  skip?: string;
  revision?: number;
  appliedAt?: number;
  restartBaseline?: number;
  reverted?: boolean;
}

export interface ShareSnapshot {
  gates: ShareGates;
  order: ShareOrder;
  devices: ShareDevice[];
}

const IDLE: ShareOrder = { wave: 0, quota: 0, mode: 'hold', revert: NO_REVERT };

export class ShareCore {
  private order: ShareOrder;
  private readonly devices: ShareDevice[];
  private readonly byId = new Map<string, ShareDevice>();
  private readonly observations = new Map<string, Observation>();
  private lastReport = '';

  private constructor(
    readonly gates: ShareGates,
    private readonly clock: Clock,
    snapshot: Pick<ShareSnapshot, 'order' | 'devices'>,
    /** Until then, a soaking device seen offline is not failed: its coordinator restarted and has not heard it yet. */
    private readonly graceUntil = 0,
  ) {
    this.order = snapshot.order;
    this.devices = snapshot.devices;
    for (const d of this.devices) this.byId.set(d.id, d);
  }

  /** A new share over these candidates, in a stable order (by id). Nothing happens before the first order. */
  static create(gates: ShareGates, candidates: readonly Candidate[], clock: Clock): ShareCore {
    const now = clock.now();
    const devices = [...candidates]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((c): ShareDevice => (c.skip ? { id: c.id, state: 'skipped', reason: c.skip, since: now, skip: c.skip } : { id: c.id, state: 'pending', reason: 'waiting for its wave', since: now }));
    return new ShareCore(gates, clock, { order: IDLE, devices });
  }

  /** After a restart of this coordinator: devices get `graceMs` to be heard again before "offline" counts against them. */
  static restore(snapshot: ShareSnapshot, clock: Clock, graceMs = 0): ShareCore {
    return new ShareCore(snapshot.gates, clock, structuredClone(snapshot), clock.now() + graceMs);
  }

  get mode(): ShareOrder['mode'] {
    return this.order.mode;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  snapshot(): ShareSnapshot {
    return structuredClone({ gates: this.gates, order: this.order, devices: this.devices });
  }

  setOrder(order: ShareOrder): Decision[] {
    this.order = order;
    if (order.mode === 'run') this.assign(order);
    return this.settle([]);
  }

  observe(id: string, observation: Observation): Decision[] {
    if (!this.byId.has(id)) return [];
    this.observations.set(id, observation);
    return this.settle([]);
  }

  /** The change reached the device's coordinator as desired revision `revision`. */
  applied(id: string, revision: number): Decision[] {
    const d = this.byId.get(id);
    if (!d || d.state !== 'updating') return [];
    const now = this.clock.now();
    d.revision = revision;
    d.appliedAt = now;
    d.restartBaseline = this.observations.get(id)?.restartsTotal ?? 0;
    d.reason = `waiting for revision ${revision} to run`;
    return this.settle([]);
  }

  applyFailed(id: string, reason: string): Decision[] {
    const d = this.byId.get(id);
    if (!d || d.state !== 'updating') return [];
    this.set(d, 'failed', `the change could not be applied: ${reason}`);
    return this.settle([]);
  }

  tick(): Decision[] {
    return this.settle([]);
  }

  report(): ShareReport {
    const waves: WaveCounts[] = [];
    for (const d of this.devices) {
      if (d.wave === undefined) continue;
      for (let k = waves.length; k <= d.wave; k++) waves.push({ assigned: 0, pending: 0, updating: 0, healthy: 0, failed: 0, rolled_back: 0, skipped: 0 });
      waves[d.wave].assigned++;
      waves[d.wave][d.state]++;
    }
    const devices = this.devices.map((d): RolloutDevice => ({
      id: d.id,
      state: d.state,
      ...(d.wave !== undefined ? { wave: d.wave } : {}),
      ...(d.revision !== undefined ? { revision: d.revision } : {}),
      ...(d.reason !== undefined ? { reason: d.reason } : {}),
    }));
    return { wave: this.order.wave, eligible: this.devices.filter((d) => !d.skip).length, waves, devices };
  }

  /** Bring the number of devices in the rollout up to the quota: devices known to be online first, then by id. */
  private assign(order: ShareOrder): void {
    let missing = order.quota - this.devices.filter((d) => d.wave !== undefined).length;
    if (missing <= 0) return;
    const waiting = this.devices.filter((d) => d.wave === undefined && !d.skip);
    const online = (d: ShareDevice) => (this.observations.get(d.id)?.online ? 0 : 1);
    waiting.sort((a, b) => online(a) - online(b));
    const now = this.clock.now();
    for (const d of waiting.slice(0, missing)) {
      d.wave = order.wave;
      d.since = now;
      d.reason = 'offline';
      missing--;
    }
  }

  private revert(order: ShareOrder, out: Decision[]): void {
    const { failed, wave, all } = order.revert;
    for (const d of this.devices) {
      if (d.wave === undefined || d.reverted || d.state === 'skipped') continue;
      const inScope = all || d.wave === wave || (failed && (d.state === 'failed' || d.state === 'rolled_back'));
      if (!inScope) continue;
      d.reverted = true;
      if (d.state === 'rolled_back') {
        // It went back by itself: its desired state here goes back too, so the two agree again.
        out.push({ type: 'revert', device: d.id });
        continue;
      }
      if (d.state === 'pending') {
        this.set(d, 'skipped', 'rolled back before the change reached it');
        continue;
      }
      out.push({ type: 'revert', device: d.id });
      this.set(d, 'rolled_back', `rolled back (${d.state === 'failed' ? d.reason : all ? 'with the rollout' : `with wave ${d.wave}`})`);
    }
  }

  /** Re-evaluate every device, revert what the order says (also devices that failed since), then add the report
   *  (if it changed) and the next timer. */
  private settle(out: Decision[]): Decision[] {
    const now = this.clock.now();
    let next = Infinity;
    for (const d of this.devices) {
      const due = this.step(d, now, out);
      if (due !== undefined) next = Math.min(next, due);
    }
    this.revert(this.order, out);
    const report = this.report();
    const text = JSON.stringify(report);
    if (text !== this.lastReport) {
      this.lastReport = text;
      out.push({ type: 'report', report });
    }
    if (next !== Infinity) out.push({ type: 'timer', at: next });
    return out;
  }

  /** One device's transition at `now`, if any; returns when it next needs a look. */
  private step(d: ShareDevice, now: number, out: Decision[]): number | undefined {
    if (d.wave === undefined) {
      // A rollout that ended never reached these: they are reported as skipped, never silently left out.
      if (this.order.mode === 'end' && d.state === 'pending') this.set(d, 'skipped', 'the rollout ended before its wave');
      return undefined;
    }
    const o = this.observations.get(d.id);
    if (d.state === 'pending') {
      if (this.order.mode === 'end') return void this.set(d, 'skipped', 'the rollout ended while it was offline');
      if (o?.online && this.order.mode === 'run') {
        out.push({ type: 'apply', device: d.id });
        this.set(d, 'updating', 'applying the change');
        return now + this.gates.applyTimeoutMs;
      }
      if (o?.online) {
        // Held (paused, outside a window) while online: the offline timeout counts from when it was last seen.
        d.since = now;
        d.reason = 'waiting: the rollout is paused or outside its window';
        return undefined;
      }
      const deadline = d.since + this.gates.offlineTimeoutMs;
      if (now >= deadline) return void this.set(d, 'skipped', `offline for more than ${formatDuration(this.gates.offlineTimeoutMs)}`);
      d.reason = 'offline';
      return deadline;
    }
    if (d.state !== 'updating') return undefined;
    if (d.revision === undefined || d.appliedAt === undefined) {
      const deadline = d.since + this.gates.applyTimeoutMs;
      if (now >= deadline) return void this.set(d, 'failed', `the change was not applied within ${formatDuration(this.gates.applyTimeoutMs)}`);
      return deadline;
    }
    return this.gate(d, d.revision, d.appliedAt, o, now);
  }

  /** Issue 12's device gate: within the soak time after it applied, the new revision runs with every child running,
   *  no desired_failed, restarts within the limit, and the device stayed online. */
  private gate(d: ShareDevice, revision: number, appliedAt: number, o: Observation | undefined, now: number): number | undefined {
    const { soakMs, maxRestarts, applyTimeoutMs } = this.gates;
    if (o?.rolledBack?.revision === revision) return void this.set(d, 'rolled_back', `the device rolled back revision ${revision} by itself: ${o.rolledBack.reason}`);
    if (o?.failed?.revision === revision) return void this.set(d, 'failed', `revision ${revision} failed on the device: ${o.failed.reason}`);
    if (o && !o.online) {
      if (now < this.graceUntil) return this.graceUntil;
      return void this.set(d, 'failed', 'went offline during its soak');
    }
    if (o) {
      // An agent restart resets its counter: never count below the lowest value seen.
      d.restartBaseline = Math.min(d.restartBaseline ?? 0, o.restartsTotal);
      const restarts = o.restartsTotal - d.restartBaseline;
      if (restarts > maxRestarts) return void this.set(d, 'failed', `${restarts} restarts during its soak (at most ${maxRestarts})`);
    }
    const soakEnd = appliedAt + soakMs;
    const running = o !== undefined && o.revision === revision && o.allRunning;
    if (running && now >= soakEnd) return void this.set(d, 'healthy', undefined);
    d.reason = running ? `soaking until ${new Date(soakEnd).toISOString()}` : `waiting for revision ${revision} to run with every child running`;
    const deadline = soakEnd + applyTimeoutMs;
    if (now >= deadline) return void this.set(d, 'failed', `did not run revision ${revision} with every child running within ${formatDuration(soakMs + applyTimeoutMs)}`);
    return running ? soakEnd : deadline;
  }

  private set(d: ShareDevice, state: DeviceRolloutState, reason: string | undefined): void {
    d.state = state;
    d.reason = reason;
    d.since = this.clock.now();
  }
}
