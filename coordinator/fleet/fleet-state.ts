import type { DeviceSummary, HealthState } from '../../shared/api.js';
import type { Labels } from '../../shared/label-syntax.js';
import type { EventMessage, HealthMessage } from '../../shared/messages.js';
import { isCleanExit } from '../../shared/supervisor-events.js';

/** How many recent events the coordinator keeps per device (in memory; the agent keeps its own ring too). */
export const EVENTS_PER_DEVICE = 100;

export interface LiveDevice {
  id: string;
  online: boolean;
  lastSeen: number | undefined;
  health: HealthMessage | undefined;
  events: EventMessage[];
  /** Messages from this device the coordinator rejected. */
  invalidMessages: number;
}

export type FleetChange =
  /** `invalid`: the coordinator rejected a message from the device (its summary's count moved). */
  | { kind: 'online' | 'offline' | 'removed' | 'invalid'; id: string }
  | { kind: 'health'; id: string; health: HealthMessage }
  | { kind: 'event'; id: string; event: EventMessage };

/** The slack added to twice the report interval before a silent device counts as offline. */
const OFFLINE_GRACE_MS = 1000;

/**
 * Hot, in-memory view of a cluster's devices: presence, latest health and recent events. Pure: time comes from
 * the injected clock and changes go to the injected sink, so offline detection is testable without sockets.
 */
export class FleetState {
  private readonly devices = new Map<string, LiveDevice>();

  constructor(
    private readonly clock: () => number,
    private readonly onChange: (change: FleetChange) => void,
  ) {}

  private entry(id: string): LiveDevice {
    let d = this.devices.get(id);
    if (!d) {
      d = { id, online: false, lastSeen: undefined, health: undefined, events: [], invalidMessages: 0 };
      this.devices.set(id, d);
    }
    return d;
  }

  get(id: string): LiveDevice | undefined {
    return this.devices.get(id);
  }

  all(): IterableIterator<LiveDevice> {
    return this.devices.values();
  }

  /** Restore what the registry remembered (last seen), so a restarted coordinator shows devices as offline until they speak. */
  remember(id: string, lastSeen: number | undefined): void {
    this.entry(id).lastSeen ??= lastSeen;
  }

  /** The device was removed from the registry. */
  forget(id: string): void {
    if (this.devices.delete(id)) this.onChange({ kind: 'removed', id });
  }

  status(id: string, online: boolean): void {
    const d = this.entry(id);
    if (online) d.lastSeen = this.clock();
    this.setOnline(d, online);
  }

  health(id: string, health: HealthMessage): void {
    const d = this.entry(id);
    d.health = health;
    d.lastSeen = this.clock();
    this.setOnline(d, true);
    this.onChange({ kind: 'health', id, health });
  }

  event(id: string, event: EventMessage): void {
    const d = this.entry(id);
    d.events.push(event);
    if (d.events.length > EVENTS_PER_DEVICE) d.events.splice(0, d.events.length - EVENTS_PER_DEVICE);
    d.lastSeen = this.clock();
    this.onChange({ kind: 'event', id, event });
  }

  invalid(id: string): void {
    this.entry(id).invalidMessages++;
    this.onChange({ kind: 'invalid', id });
  }

  /**
   * Mark offline every online device silent for more than two report intervals: a missed heartbeat is tolerated,
   * two are not. (A dropped connection is caught sooner, by the agent's last will.) Returns the ids marked.
   */
  sweep(): string[] {
    const now = this.clock();
    const marked: string[] = [];
    for (const d of this.devices.values()) {
      if (!d.online || d.lastSeen === undefined) continue;
      const intervalMs = (d.health?.intervalS ?? 10) * 1000;
      if (now - d.lastSeen > 2 * intervalMs + OFFLINE_GRACE_MS) {
        this.setOnline(d, false);
        marked.push(d.id);
      }
    }
    return marked;
  }

  private setOnline(d: LiveDevice, online: boolean): void {
    if (d.online === online) return;
    d.online = online;
    this.onChange({ kind: online ? 'online' : 'offline', id: d.id });
  }
}

export function healthState(d: LiveDevice | undefined): HealthState {
  if (!d || (d.lastSeen === undefined && !d.online)) return 'unknown';
  if (!d.online) return 'offline';
  const children = d.health?.children ?? [];
  return children.some((c) => c.state !== 'running') ? 'degraded' : 'ok';
}

const restartsOf = (d: LiveDevice | undefined) => d?.health?.restartsTotal ?? 0;
/** Messages from the device rejected here, plus those the agent rejected itself. */
const invalidCount = (d: LiveDevice | undefined) => (d?.invalidMessages ?? 0) + (d?.health?.invalidMessages ?? 0);

/**
 * What a device adds to a roll-up: the summary fields shared/rollup.ts reads, computed without building the
 * summary (this runs on every report), by the same functions `summarize` uses.
 */
export function rollupShare(d: LiveDevice | undefined): string {
  return `${healthState(d)} ${d?.online ?? false} ${restartsOf(d)} ${invalidCount(d)}`;
}

export function summarize(id: string, cluster: string, d: LiveDevice | undefined, labels: Labels): DeviceSummary {
  const h = d?.health;
  const workers = (h?.children ?? []).filter((c) => c.kind === 'worker');
  return {
    id,
    cluster,
    online: d?.online ?? false,
    state: healthState(d),
    lastSeen: d?.lastSeen ?? null,
    arch: h?.arch ?? null,
    platform: h?.platform ?? null,
    target: h?.target ?? null,
    agentVersion: h?.agentVersion ?? null,
    uptimeS: h?.uptimeS ?? null,
    rssBytes: h?.memory.rss ?? null,
    load1: h?.load[0] ?? null,
    restartsTotal: restartsOf(d),
    children: { running: workers.filter((c) => c.state === 'running').length, total: workers.length },
    invalidMessages: invalidCount(d),
    stepRefs: (h?.steps ?? []).map((s) => s.ref),
    labels,
    lastFailure: lastFailure(d?.events ?? []),
    ...(h?.revokedSteps?.length ? { revokedSteps: h.revokedSteps } : {}),
  };
}

/**
 * Why the device last failed, from its recent events: the newest abnormal child exit (with the child's path) or
 * failed desired state. Its reason carries the step's own last warn/error line (docs/supervision.md).
 */
export function lastFailure(events: EventMessage[]): string | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const { type, data } = events[i];
    if (typeof data.reason !== 'string') continue;
    if (type === 'desired_failed') return `desired revision ${String(data.revision)}: ${data.reason}`;
    if (type === 'child_terminated' && !isCleanExit(data.reason)) return `${String(data.supervisor)}/${String(data.child)}: ${data.reason}`;
  }
  return null;
}
