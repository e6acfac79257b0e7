import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceSummary } from '../../shared/api.js';
import type { LogLine } from '../../shared/logs.js';
import type { RolloutStatus } from '../../shared/rollout.js';
import type { StreamClusters, StreamDevices, StreamEvents, StreamHeartbeat, StreamHello, StreamLogs, StreamRollouts } from '../../shared/stream.js';
import type { DirectoryChange } from '../fleet/directory.js';
import { LiveFeed } from './live-feed.js';

export interface StreamOptions {
  cluster: string;
  /** The current summary of a device (own or below), or undefined once it is removed. */
  summary(id: string): DeviceSummary | undefined;
  /** How long changes are coalesced before they are pushed. */
  flushMs?: number;
  heartbeatMs?: number;
}

/** A client that let this much unsent data pile up is cut off; it reconnects and fetches a fresh snapshot. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * The live channel as Server-Sent Events (HTML Living Standard §9.2): `hello` on connect, then `devices` and
 * `events` batches, `clusters` when the cluster tree changed, `rollout` when a rollout's status changed, and a
 * `heartbeat` that also carries rates, from the device directory's one change feed and the rollouts (nothing is polled). EventSource reconnects by itself (`retry:`), and
 * every `hello` tells the page to refetch its snapshot, so nothing missed while disconnected stays stale.
 */
export class LiveStream {
  /** Each client, with the device whose log lines it asked for (`?logs=ID`), if any. */
  private readonly clients = new Map<ServerResponse, string | undefined>();
  private readonly feed = new LiveFeed();
  /** Rollouts whose status changed since the last batch, the latest status of each. */
  private readonly rollouts = new Map<string, RolloutStatus>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private lastRates = Date.now();
  private clustersRevision = 0;
  readonly flushMs: number;
  readonly heartbeatMs: number;

  constructor(private readonly opts: StreamOptions) {
    this.flushMs = opts.flushMs ?? 250;
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** One change from the device directory's feed (own devices, devices below, the cluster tree). */
  change(c: DirectoryChange): void {
    this.feed.change(c);
    this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** A rollout's status changed: sent with the next batch. */
  rolloutChanged(status: RolloutStatus): void {
    this.rollouts.set(status.id, status);
    this.flushTimer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** A log line kept for one of this cluster's devices: sent at once to the clients that asked for that device. */
  logLine(id: string, line: LogLine): void {
    let text: string | undefined;
    for (const [res, watched] of this.clients) {
      if (watched !== id) continue;
      text ??= frame('logs', { id, lines: [line] } satisfies StreamLogs);
      this.write(res, text);
    }
  }

  /** `logs`: the device this client wants log lines of (a device page's Logs panel). */
  open(req: IncomingMessage, res: ServerResponse, logs?: string): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies (nginx) must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    req.socket.setNoDelay(true);
    this.clients.set(res, logs);
    res.on('close', () => this.clients.delete(res));
    const hello: StreamHello = { cluster: this.opts.cluster, serverTime: Date.now(), heartbeatMs: this.heartbeatMs };
    res.write(`retry: 2000\n\n${frame('hello', hello)}`);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = this.feed.drain();
    const rollouts = [...this.rollouts.values()];
    this.rollouts.clear();
    // Nobody listening: nothing is computed (a page that connects later fetches a snapshot first).
    if (this.clients.size === 0) return;
    if (rollouts.length) this.broadcast(frame('rollout', { rollouts } satisfies StreamRollouts));
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
    if (batch.clusters) this.broadcast(frame('clusters', { revision: ++this.clustersRevision } satisfies StreamClusters));
  }

  private beat(): void {
    const now = Date.now();
    const body: StreamHeartbeat = { serverTime: now, clients: this.clients.size, rates: this.feed.rates(now - this.lastRates) };
    this.lastRates = now;
    if (this.clients.size) this.broadcast(frame('heartbeat', body));
  }

  private broadcast(text: string): void {
    for (const res of this.clients.keys()) this.write(res, text);
  }

  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
    else res.write(text);
  }

  close(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.flushTimer);
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }
}

/** One SSE message; JSON has no raw newlines, so a single `data:` line is enough. */
function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
