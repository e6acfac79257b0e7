import type { ClusterNode, ClusterSummary, DeviceSummary } from '../../../shared/api.js';
import type { EventMessage } from '../../../shared/messages.js';
import type { RolloutStatus } from '../../../shared/rollout.js';
import type { StreamDevices, StreamRates } from '../../../shared/stream.js';

/** `live`: the stream is open; `lost`: it dropped and EventSource is reconnecting; `connecting`: not yet open. */
export type Connection = 'connecting' | 'live' | 'lost';

/** Counters the benchmark reads (bench/dashboard.ts) through `window.flotilla`. */
export interface StoreStats {
  batches: number;
  deviceUpdates: number;
  renders: number;
}

/**
 * The page's model of the fleet: the snapshot from `GET /api/v1/devices`, kept current by `devices` batches from
 * the live stream, and the cluster tree from `GET /api/v1/clusters`, fetched again when the stream says it changed. Batches that arrive while a snapshot is loading are replayed on top of it, so no update is lost
 * between the stream's `hello` and the snapshot's reply. Subscribers are told at most once per animation frame.
 */
export class FleetStore {
  devices = new Map<string, DeviceSummary>();
  cluster: ClusterSummary | undefined;
  /** The cluster tree rooted at this coordinator, with roll-ups and bridge states. */
  clusters: ClusterNode | undefined;
  connection: Connection = 'connecting';
  /** Rollouts of this coordinator by id (`GET /api/v1/rollouts`, then `rollout` messages from the stream). */
  rollouts = new Map<string, RolloutStatus>();
  rates: StreamRates | undefined;
  /** Server time minus browser time, from the stream, for "last seen … ago". */
  clockSkewMs = 0;
  loaded = false;
  readonly stats: StoreStats = { batches: 0, deviceUpdates: 0, renders: 0 };
  private buffered: StreamDevices[] | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly eventListeners = new Set<(id: string, e: EventMessage) => void>();
  private scheduled = false;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onEvent(listener: (id: string, e: EventMessage) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** The rollouts list (`replace`: a fresh snapshot) or the changed ones from the stream. */
  applyRollouts(rollouts: RolloutStatus[], replace = false): void {
    if (replace) this.rollouts = new Map();
    for (const r of rollouts) this.rollouts.set(r.id, r);
    this.changed();
  }

  /** A snapshot request is in flight: hold stream batches until it lands. */
  beginSnapshot(): void {
    this.buffered ??= [];
  }

  applySnapshot(devices: DeviceSummary[], cluster: ClusterSummary, clusters: ClusterNode): void {
    this.devices = new Map(devices.map((d) => [d.id, d]));
    this.cluster = cluster;
    this.clusters = clusters;
    const replay = this.buffered ?? [];
    this.buffered = undefined;
    for (const batch of replay) this.merge(batch);
    this.loaded = true;
    this.changed();
  }

  applyDevices(batch: StreamDevices): void {
    this.stats.batches++;
    this.stats.deviceUpdates += batch.devices.length;
    if (this.buffered) this.buffered.push(batch);
    else {
      this.merge(batch);
      this.changed();
    }
  }

  applyClusters(root: ClusterNode): void {
    this.clusters = root;
    this.changed();
  }

  applyEvents(events: { id: string; event: EventMessage }[]): void {
    for (const { id, event } of events) for (const l of this.eventListeners) l(id, event);
  }

  setConnection(c: Connection): void {
    if (this.connection === c) return;
    this.connection = c;
    this.changed();
  }

  setServerTime(serverTime: number, rates?: StreamRates): void {
    this.clockSkewMs = serverTime - Date.now();
    if (rates) {
      this.rates = rates;
      this.changed();
    }
  }

  private merge(batch: StreamDevices): void {
    for (const d of batch.devices) this.devices.set(d.id, d);
    for (const id of batch.removed) this.devices.delete(id);
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.stats.renders++;
      for (const l of this.listeners) l();
    });
  }
}
