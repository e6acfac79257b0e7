import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceSummary } from '../../shared/api.js';
import type { EventMessage } from '../../shared/messages.js';
import type { StreamClusters, StreamDevices, StreamEvents, StreamHeartbeat, StreamHello } from '../../shared/stream.js';
import type { FleetChange } from '../fleet/fleet-state.js';
import { LiveFeed } from './live-feed.js';

export interface StreamOptions {
  cluster: string;
  /** The current summary of a device, or undefined once it is removed. */
  summary(id: string): DeviceSummary | undefined;
  /** Devices of child clusters, keyed by qualified id (the federation's subtree view), checked once per flush. */
  remote?(): Iterable<[string, RemoteDeviceView]>;
  /** A cheap key of what `GET /api/v1/clusters` shows; checked once per flush, a new key sends `clusters`. */
  clustersKey?(): string;
  /** How long changes are coalesced before they are pushed. */
  flushMs?: number;
  heartbeatMs?: number;
}

/** What the stream reads of a remote device: replaced `detail` objects and appended events mark a change. */
export interface RemoteDeviceView {
  detail: object;
  events: EventMessage[];
}

/** A client that let this much unsent data pile up is cut off; it reconnects and fetches a fresh snapshot. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * The live channel as Server-Sent Events (HTML Living Standard §9.2): `hello` on connect, then `devices` and
 * `events` batches, `clusters` when the cluster tree changed, and a `heartbeat` that also carries rates. EventSource reconnects by itself (`retry:`), and
 * every `hello` tells the page to refetch its snapshot, so nothing missed while disconnected stays stale.
 */
export class LiveStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly feed = new LiveFeed();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private lastRates = Date.now();
  private readonly remoteSeen = new Map<string, { detail: object; last: EventMessage | undefined }>();
  private readonly watchTimer: NodeJS.Timeout | undefined;
  private clustersKey: string | undefined;
  private clustersRevision = 0;
  readonly flushMs: number;
  readonly heartbeatMs: number;

  constructor(private readonly opts: StreamOptions) {
    this.flushMs = opts.flushMs ?? 250;
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    // Child clusters' devices and summaries arrive through the federation uplink, not as FleetChanges: look at
    // them once per flush period (in memory, cheap) and push what changed since the last look.
    if (opts.remote || opts.clustersKey) {
      this.clustersKey = opts.clustersKey?.();
      this.watchTimer = setInterval(() => {
        if (opts.remote) this.scanRemote();
        this.checkClusters();
      }, this.flushMs);
      this.watchTimer.unref();
    }
  }

  private checkClusters(): void {
    const key = this.opts.clustersKey?.();
    if (key === this.clustersKey) return;
    this.clustersKey = key;
    this.clustersRevision++;
    if (this.clients.size) this.broadcast(frame('clusters', { revision: this.clustersRevision } satisfies StreamClusters));
  }

  /** Compare the subtree view's objects by identity and queue what was replaced since the last look. */
  private scanRemote(): void {
    let changed = false;
    const present = new Set<string>();
    for (const [id, d] of this.opts.remote!()) {
      present.add(id);
      const seen = this.remoteSeen.get(id);
      const last = d.events.at(-1);
      if (seen && seen.detail === d.detail && seen.last === last) continue;
      // New events only (a device seen for the first time brings its summary; its past events are in its detail).
      const from = !seen ? d.events.length : seen.last ? d.events.indexOf(seen.last) + 1 : 0;
      this.remoteSeen.set(id, { detail: d.detail, last });
      this.feed.remote(id, d.events.slice(from));
      changed = true;
    }
    // Devices gone from the subtree view (removed in their cluster): their ids go out as `removed`.
    for (const id of this.remoteSeen.keys()) {
      if (present.has(id)) continue;
      this.remoteSeen.delete(id);
      this.feed.remote(id, []);
      changed = true;
    }
    if (changed) this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  change(c: FleetChange): void {
    this.feed.change(c);
    this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    req.socket.setNoDelay(true);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    const hello: StreamHello = { cluster: this.opts.cluster, serverTime: Date.now(), heartbeatMs: this.heartbeatMs };
    res.write(`retry: 2000\n\n${frame('hello', hello)}`);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = this.feed.drain();
    if (this.clients.size === 0) return;
    if (batch.deviceIds.length) {
      const devices: DeviceSummary[] = [];
      const removed: string[] = [];
      for (const id of batch.deviceIds) {
        const s = this.opts.summary(id);
        if (s) devices.push(s);
        else removed.push(id);
      }
      this.broadcast(frame('devices', { devices, removed } satisfies StreamDevices));
    }
    if (batch.events.length) this.broadcast(frame('events', { events: batch.events } satisfies StreamEvents));
  }

  private beat(): void {
    const now = Date.now();
    const body: StreamHeartbeat = { serverTime: now, clients: this.clients.size, rates: this.feed.rates(now - this.lastRates) };
    this.lastRates = now;
    if (this.clients.size) this.broadcast(frame('heartbeat', body));
  }

  private broadcast(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.watchTimer);
    clearTimeout(this.flushTimer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}

/** One SSE message; JSON has no raw newlines, so a single `data:` line is enough. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
