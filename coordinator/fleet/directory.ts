import type { ClusterNode, DeviceDetail, DeviceSummary, Rollup } from '../../shared/api.js';
import type { Labels } from '../../shared/label-syntax.js';
import { NO_LABELS } from '../../shared/labels.js';
import type { EventMessage, HealthMessage } from '../../shared/messages.js';
import { combine, rollupDevices } from '../../shared/rollup.js';
import { FleetState, rollupShare, summarize, type FleetChange } from './fleet-state.js';
import { SubtreeView, type SubtreeChange } from './subtree-view.js';

/**
 * One change of what the directory knows. Local kinds carry the device's own id (FleetChange, plus `enrolled`);
 * `remote`/`remote_event` a qualified id below (`eu/site1/x`); `clusters` means the tree or a roll-up in it moved.
 * A device whose `summary(id)` is undefined after a change is gone.
 */
export type DirectoryChange = FleetChange | SubtreeChange | { kind: 'enrolled' | 'labels'; id: string };

/** What the directory reads of the registry (coordinator/registry): the enrolled devices and their remembered facts. */
export interface DeviceRecords {
  list(): { id: string; lastSeen?: number; labels?: Labels }[];
  get(id: string): { facts?: HealthFacts; lastSeen?: number; labels?: Labels } | undefined;
  update(id: string, patch: { facts?: HealthFacts; lastSeen?: number }): unknown;
}
type HealthFacts = Pick<HealthMessage, 'arch' | 'platform' | 'target' | 'agentVersion' | 'nodeVersion'>;

/**
 * The one owner of what a coordinator knows about devices: its own (the registry joined with the live fleet state)
 * and those below it (the federation's subtree view), with list/summary/detail/rollup and one change feed that the
 * HTTP API, the federation uplink and the dashboard stream all read. Pure apart from the registry it is handed:
 * time is injected, nothing polls. Per-device labels come with the records and are part of every summary.
 */
export class DeviceDirectory {
  readonly live: FleetState;
  readonly below: SubtreeView;
  private readonly listeners = new Set<(change: DirectoryChange) => void>();
  /** Each own device's share of the roll-up, so a change that moves the roll-up is told as `clusters`. */
  private readonly shares = new Map<string, string>();
  private ownRollupCache: Rollup | undefined;

  constructor(
    readonly cluster: string,
    private readonly records: DeviceRecords,
    clock: () => number = Date.now,
  ) {
    this.live = new FleetState(clock, (change) => this.localChanged(change));
    this.below = new SubtreeView(cluster, clock, (change) => this.emit(change));
    for (const d of records.list()) {
      this.live.remember(d.id, d.lastSeen);
      this.shares.set(d.id, rollupShare(this.live.get(d.id)));
    }
  }

  /** Subscribe to every change (see DirectoryChange). Returns the unsubscribe function. */
  onChange(listener: (change: DirectoryChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether `id` is one of this cluster's own (enrolled) devices. */
  isLocal(id: string): boolean {
    return this.records.get(id) !== undefined;
  }

  ownIds(): string[] {
    return this.records.list().map((r) => r.id);
  }

  ownSummary(id: string): DeviceSummary | undefined {
    const record = this.records.get(id);
    return record ? summarize(id, this.cluster, this.live.get(id), record.labels ?? NO_LABELS) : undefined;
  }

  ownSummaries(): DeviceSummary[] {
    return this.records.list().map((r) => summarize(r.id, this.cluster, this.live.get(r.id), r.labels ?? NO_LABELS));
  }

  /** The summary of an own device (plain id) or one below (qualified id), undefined for neither. */
  summary(id: string): DeviceSummary | undefined {
    return this.ownSummary(id) ?? this.below.devices.get(id)?.summary;
  }

  /** Every device, own and below, sorted by id (`GET /api/v1/devices`). */
  list(): DeviceSummary[] {
    return [...this.ownSummaries(), ...this.below.summaries()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /**
   * Full detail of an own device; of one below, what flowed up (summary and events: its health is kept by its own
   * coordinator, which the API asks first).
   */
  detail(id: string): DeviceDetail | undefined {
    const own = this.ownSummary(id);
    if (own) {
      const live = this.live.get(id);
      return detailOf(own, live?.health, live?.events ?? []);
    }
    const remote = this.below.devices.get(id);
    return remote && detailOf(remote.summary, undefined, remote.events);
  }

  /** The roll-up of this cluster's own devices (computed once per change of it). */
  ownRollup(): Rollup {
    return (this.ownRollupCache ??= rollupDevices(this.ownSummaries()));
  }

  /** Own devices, and own plus every cluster below. */
  rollup(): { own: Rollup; subtree: Rollup } {
    const own = this.ownRollup();
    return { own, subtree: combine(own, this.below.childrenRollup()) };
  }

  /** The cluster tree rooted here (`GET /api/v1/clusters`). */
  tree(): ClusterNode {
    return this.below.tree(this.ownRollup());
  }

  /** A device was enrolled (or its token rotated). */
  enrolled(id: string): void {
    this.live.remember(id, undefined);
    this.emit({ kind: 'enrolled', id });
    this.reshare(id);
  }

  /** An own device's labels changed (in the registry): its summary goes out again. */
  labelled(id: string): void {
    this.emit({ kind: 'labels', id });
  }

  /** A device was removed from the registry. */
  removed(id: string): void {
    this.live.forget(id);
    this.reshare(id);
  }

  private localChanged(change: FleetChange): void {
    this.remember(change);
    this.emit(change);
    this.reshare(change.id);
  }

  /** Last-seen and platform facts survive a restart in the registry. */
  private remember(change: FleetChange): void {
    if (change.kind === 'online' || change.kind === 'offline') this.records.update(change.id, { lastSeen: this.live.get(change.id)?.lastSeen });
    if (change.kind !== 'health') return;
    const { arch, platform, target, agentVersion, nodeVersion } = change.health;
    const facts = this.records.get(change.id)?.facts;
    if (!facts || facts.arch !== arch || facts.target !== target || facts.agentVersion !== agentVersion || facts.platform !== platform || facts.nodeVersion !== nodeVersion) {
      this.records.update(change.id, { facts: { arch, platform, target, agentVersion, nodeVersion } });
    }
  }

  private reshare(id: string): void {
    const next = this.records.get(id) ? rollupShare(this.live.get(id)) : undefined;
    if (next === this.shares.get(id)) return;
    if (next === undefined) this.shares.delete(id);
    else this.shares.set(id, next);
    this.ownRollupCache = undefined;
    this.emit({ kind: 'clusters' });
  }

  private emit(change: DirectoryChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

/** The one device-detail builder: a summary with the latest health (when this coordinator has it) and recent events. */
export function detailOf(summary: DeviceSummary, health: HealthMessage | undefined, events: EventMessage[]): DeviceDetail {
  return { ...summary, health: health ?? null, events, tree: health?.children ?? [], steps: health?.steps ?? [] };
}
