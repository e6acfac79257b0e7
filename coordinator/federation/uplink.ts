import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { errorMessage } from '../../shared/errors.js';
import type { AliveMessage, SummaryMessage } from '../../shared/federation.js';
import { UPLINK, upTopic } from '../../shared/fleet-topics.js';
import type { Logger } from '../../shared/log.js';
import { EventMessage, decode, encode } from '../../shared/messages.js';
import { allDevices, parseDeviceTopic } from '../../shared/topics.js';
import type { DeviceDirectory, DirectoryChange } from '../fleet/directory.js';
import type { Endpoint } from './bridge.js';
import { significantKey } from './significant.js';

/** Device changes are gathered this long before details go up (a burst of health reports makes one message). */
const DETAIL_FLUSH_MS = 50;

export interface UplinkOptions {
  cluster: string;
  version: string;
  /** Minimum time between two summaries (and two alive messages) sent upward. */
  summaryMs: number;
  /** How the uplink's event session reaches the cluster broker (its client id names the persistent session). */
  local: Endpoint;
  log: Logger;
}

/**
 * What a child coordinator tells its parent (docs/federation.md, "Uplink"), published on its own broker's
 * `flotilla/up/…` for the bridge to carry: device details on significant change, events, a bounded-rate summary of
 * the roll-ups and the `alive` that keeps last-seen honest. Driven by the directory's change feed, except events:
 * the uplink takes those from its own persistent session on the cluster broker and acknowledges each only once its
 * copy up is PUBACKed (queued durably for the bridge), so a coordinator killed in between sends it again after the
 * restart instead of losing it. Everything goes up through `client`, in the order it was made (a detail ahead of
 * its device's events); the session is a second client because mqtt.js handles incoming packets one at a time, so
 * a client waiting in a message handler never gets the PUBACK it waits for.
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
  private session: MqttClient | undefined;

  constructor(
    private readonly opts: UplinkOptions,
    private readonly client: MqttClient,
    private readonly directory: DeviceDirectory,
  ) {}

  async start(): Promise<void> {
    const { local } = this.opts;
    const session = mqtt.connect(local.url, { clientId: local.clientId, username: local.username, password: local.password, clean: false, reconnectPeriod: 1000 });
    this.session = session;
    session.on('error', (err) => this.opts.log.warn(`uplink event session: ${err.message}`));
    // mqtt.js sends the PUBACK once this calls back without error; a resumed session's queue arrives right after
    // CONNACK, so this is in place before the client connects.
    session.handleMessage = (packet, done) =>
      void this.forwardEvent(packet as IPublishPacket).then(
        () => done(),
        (err: Error) => {
          this.opts.log.warn(`uplink: event on ${(packet as IPublishPacket).topic} not forwarded, left unacknowledged: ${errorMessage(err)}`);
          done(err);
        },
      );
    await session.subscribeAsync(allDevices('events'), { qos: 1 });
    this.unsubscribe = this.directory.onChange((change) => this.changed(change));
    // Everything the parent should know now; afterwards only changes.
    for (const id of this.directory.ownIds()) this.dirty.add(id);
    this.scheduleDetails();
    this.aliveTimer = setInterval(() => this.sendAlive(), this.opts.summaryMs);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearTimeout(this.detailTimer);
    clearTimeout(this.summaryTimer);
    clearInterval(this.aliveTimer);
    // Forced: what is not acknowledged yet stays in the session and is forwarded after the next start.
    await this.session?.endAsync(true);
  }

  /**
   * One device event from the session, up after the device's first-ever detail; resolves once PUBACKed. Checked here
   * too (the bus, another client, checks its own copy): an invalid one is dropped (the bus counts it), not left to the
   * bridge, whose rejections mean a coordinator of ours sent something malformed.
   */
  private async forwardEvent(packet: IPublishPacket): Promise<void> {
    const id = parseDeviceTopic(packet.topic)?.deviceId;
    if (id === undefined) return;
    let event: EventMessage;
    try {
      event = decode(EventMessage, packet.payload as Buffer, `event of ${id}`);
    } catch {
      return;
    }
    // The parent files events under a device it knows: a first-ever detail goes ahead of the event.
    if (!this.sentDetail.has(id)) this.sendDetail(id);
    await this.client.publishAsync(upTopic([], UPLINK.events(id)), encode(event), { qos: 1, retain: false });
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
    // An event itself goes up from the uplink's session (forwardEvent); what it changed in the detail follows.
    this.dirty.add(change.id);
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
