import type { MqttClient } from 'mqtt';
import type { AliveMessage, SummaryMessage } from '../../shared/federation.js';
import { UPLINK, upTopic } from '../../shared/fleet-topics.js';
import { encode } from '../../shared/messages.js';
import type { DeviceDirectory, DirectoryChange } from '../fleet/directory.js';
import { significantKey } from './significant.js';

/** Device changes are gathered this long before details go up (a burst of health reports makes one message). */
const DETAIL_FLUSH_MS = 50;

export interface UplinkOptions {
  cluster: string;
  version: string;
  /** Minimum time between two summaries (and two alive messages) sent upward. */
  summaryMs: number;
}

/**
 * What a child coordinator tells its parent (docs/federation.md, "Uplink"), published on its own broker's
 * `flotilla/up/…` for the bridge to carry: device details on significant change, events, a bounded-rate summary of
 * the roll-ups and the `alive` that keeps last-seen honest. Driven by the directory's change feed.
 */
export class Uplink {
  private readonly sentDetail = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private detailTimer: NodeJS.Timeout | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private aliveTimer: NodeJS.Timeout | undefined;
  private lastSummaryAt = 0;
  private lastSummaryKey = '';
  private lastAlive: number | null | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly opts: UplinkOptions,
    private readonly client: MqttClient,
    private readonly directory: DeviceDirectory,
  ) {}

  start(): void {
    this.unsubscribe = this.directory.onChange((change) => this.changed(change));
    // Everything the parent should know now; afterwards only changes.
    for (const id of this.directory.ownIds()) this.dirty.add(id);
    this.scheduleDetails();
    this.aliveTimer = setInterval(() => this.sendAlive(), this.opts.summaryMs);
  }

  stop(): void {
    this.unsubscribe?.();
    clearTimeout(this.detailTimer);
    clearTimeout(this.summaryTimer);
    clearInterval(this.aliveTimer);
  }

  private changed(change: DirectoryChange): void {
    // A roll-up moved (ours or below): a summary follows, after the details of a pending flush.
    if (change.kind === 'clusters') return void (this.detailTimer || this.scheduleSummary());
    if (change.kind === 'remote' || change.kind === 'remote_event') return; // below: the bridge carries it as sent
    if (change.kind === 'removed') {
      // Clearing the retained detail tells every coordinator above that the device is gone.
      this.dirty.delete(change.id);
      this.sentDetail.delete(change.id);
      this.client.publish(upTopic([], UPLINK.detail(change.id)), Buffer.alloc(0), { qos: 1, retain: true });
      return;
    }
    this.dirty.add(change.id);
    if (change.kind === 'event') {
      // The parent files events under a device it knows: a first-ever detail goes ahead of the event.
      if (!this.sentDetail.has(change.id)) this.sendDetail(change.id);
      this.publish(UPLINK.events(change.id), change.event, false);
    }
    this.scheduleDetails();
  }

  private sendDetail(id: string): void {
    const detail = this.directory.ownSummary(id);
    if (!detail) return;
    const key = significantKey(detail);
    if (this.sentDetail.get(id) === key) return;
    this.sentDetail.set(id, key);
    this.publish(UPLINK.detail(id), detail, true);
  }

  private publish(kind: string, message: unknown, retain: boolean): void {
    this.client.publish(upTopic([], kind), encode(message), { qos: 1, retain });
  }

  private scheduleDetails(): void {
    this.detailTimer ??= setTimeout(() => {
      this.detailTimer = undefined;
      for (const id of this.dirty) this.sendDetail(id);
      this.dirty.clear();
      this.scheduleSummary();
    }, DETAIL_FLUSH_MS);
  }

  /** At most one summary per `summaryMs`, and only when it changed. */
  private scheduleSummary(): void {
    if (this.summaryTimer) return;
    const wait = Math.max(0, this.lastSummaryAt + this.opts.summaryMs - Date.now());
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      const { own, subtree } = this.directory.rollup();
      const key = JSON.stringify([own, subtree]);
      if (key === this.lastSummaryKey) return;
      this.lastSummaryKey = key;
      this.lastSummaryAt = Date.now();
      const msg: SummaryMessage = { ts: Date.now(), cluster: this.opts.cluster, coordinatorVersion: this.opts.version, own, subtree };
      this.publish(UPLINK.summary, msg, true);
    }, wait);
  }

  /**
   * Vouch for our online devices in one message (AliveMessage), at most once per summary interval and only when it
   * moved: the parent's view of their last-seen stays honest while details go up only on significant changes.
   */
  private sendAlive(): void {
    let heardAt: number | null = null;
    for (const id of this.directory.ownIds()) {
      const live = this.directory.live.get(id);
      if (!live?.online || live.lastSeen === undefined) continue;
      heardAt = heardAt === null ? live.lastSeen : Math.min(heardAt, live.lastSeen);
    }
    if (heardAt === this.lastAlive) return;
    this.lastAlive = heardAt;
    this.publish(UPLINK.alive, { ts: Date.now(), heardAt } satisfies AliveMessage, true);
  }
}
