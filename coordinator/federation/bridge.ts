import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { Backoff } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';
import { encode } from '../../shared/messages.js';
import { reconnectWithBackoff } from '../../shared/reconnect.js';
import { Spool, publishStored } from '../../shared/spool.js';
import type { BridgeStateMessage } from '../../shared/federation.js';
import type { CoordinatorMetrics } from '../metrics/metrics.js';
import { checkMappings, localFilter, mapIn, mapOut, remoteFilter, type TopicMapping } from './mapping.js';

export interface Endpoint {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
}

export interface BridgeOptions {
  local: Endpoint;
  remote: Endpoint;
  mappings: TopicMapping[];
  /** Remote topic of the retained `up`/`down` state; `down` is the remote connection's last will. */
  stateTopic: string;
  /**
   * The remote client's outgoing store: what crosses up is on disk before the local broker gets its PUBACK, kept
   * while the parent is unreachable (within the spool's bounds; beyond, new messages are dropped and counted) and
   * sent in order on reconnect, also after a restart (Mosquitto's bridge with persistence).
   */
  spool: Spool;
  backoff?: { baseMs: number; capMs: number };
  keepaliveS?: number;
  /** Checks an outgoing message before it crosses; a returned reason drops it (counted as rejected). */
  check?(localTopic: string, payload: Buffer): string | undefined;
  metrics: Pick<CoordinatorMetrics, 'bridgeUp' | 'bridgeMessages' | 'bridgeBytes' | 'bridgeBuffered' | 'bridgeDropped' | 'bridgeRejected' | 'bridgeConnects'>;
  log: Logger;
}

/** Default byte bound of the uplink spool (the message bound is `--buffer-limit`). */
export const UPLINK_SPOOL_BYTES = 64 * 1024 * 1024;

/** The bridge's uplink spool in `<dataDir>/bridge/`. */
export function openUplinkSpool(dataDir: string, limits: { messages: number; bytes?: number }, log: Logger, onWriteFailure?: (err: Error) => void): Promise<Spool> {
  return Spool.open({ dir: join(dataDir, 'bridge'), name: 'uplink', log, maxMessages: limits.messages, maxBytes: limits.bytes ?? UPLINK_SPOOL_BYTES, onWriteFailure });
}

/**
 * A Mosquitto-like bridge between the cluster broker (local) and the parent's broker (remote): two mqtt.js clients
 * with persistent sessions (clean: false, QoS 1), topic mappings as data, reconnect with backoff and jitter, a
 * retained state topic with a `down` last will, a bounded on-disk spool, and re-publication of the latest retained
 * state when the parent lost our session. A message is acknowledged to the side it came from only once the other
 * side has it durably (spooled, or PUBACKed by the local broker), so killing either process loses nothing acknowledged.
 */
export class Bridge {
  state: 'up' | 'down' = 'down';
  private local!: MqttClient;
  private remote!: MqttClient;
  private stopReconnecting: () => void = () => undefined;
  /** Per received packet, when it is safe to acknowledge it (mqtt.js sends PUBACK after `handleMessage`). */
  private readonly forwarded = new WeakMap<Packet, Promise<void>>();
  /** Latest retained message per remote topic, re-published when the parent has no session for us. */
  private readonly retained = new Map<string, Buffer>();
  /** Retained topics that changed while the link was down. */
  private readonly staleRetained = new Set<string>();
  /** Local retained topics that arrived live since our local connection (re)started; see fromLocal. */
  private readonly liveSinceConnect = new Set<string>();
  private readonly listeners = new Set<(state: 'up' | 'down') => void>();

  constructor(private readonly opts: BridgeOptions) {
    const problems = checkMappings(opts.mappings);
    if (problems.length) throw new Error(`bridge mappings: ${problems.join('; ')}`);
    opts.metrics.bridgeUp.set(0);
  }

  /** Messages in the spool: sent and not yet acknowledged by the parent, or waiting for the link. */
  get buffered(): number {
    return this.opts.spool.stats.queued;
  }

  /** Connect both sides (the remote with backoff); the link comes and goes by itself until `close`. */
  start(): void {
    const { opts } = this;
    const session: IClientOptions = { clean: false, keepalive: opts.keepaliveS ?? 30, reconnectOnConnackError: true };
    this.local = mqtt.connect(opts.local.url, { ...session, clientId: opts.local.clientId, username: opts.local.username, password: opts.local.password, reconnectPeriod: 1000 });
    const down: BridgeStateMessage = { state: 'down', ts: Date.now() };
    this.remote = mqtt.connect(opts.remote.url, {
      ...session,
      clientId: opts.remote.clientId,
      username: opts.remote.username,
      password: opts.remote.password,
      // Reconnects are scheduled by reconnectWithBackoff.
      reconnectPeriod: 0,
      outgoingStore: opts.spool,
      messageIdProvider: opts.spool.messageIds(),
      will: { topic: opts.stateTopic, payload: encode(down), qos: 1, retain: true },
    });
    this.stopReconnecting = reconnectWithBackoff(this.remote, new Backoff(opts.backoff?.baseMs ?? 500, opts.backoff?.capMs ?? 30_000));
    for (const client of [this.local, this.remote]) {
      client.handleMessage = (packet, done) => void (this.forwarded.get(packet) ?? Promise.resolve()).then(() => done());
    }
    this.remote.on('packetreceive', (p) => p.cmd === 'puback' && opts.metrics.bridgeBuffered.set(this.buffered));
    this.wireLocal();
    this.wireRemote();
  }

  onState(listener: (state: 'up' | 'down') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setState(state: 'up' | 'down'): void {
    if (this.state === state) return;
    this.state = state;
    this.opts.metrics.bridgeUp.set(state === 'up' ? 1 : 0);
    for (const l of this.listeners) l(state);
  }

  private wireLocal(): void {
    const { local, opts } = this;
    const filters = opts.mappings.filter((m) => m.direction !== 'in').map(localFilter);
    if (filters.length) local.subscribe(filters, { qos: 1 });
    local.on('error', (err) => opts.log.warn(`bridge local side: ${err.message}`));
    local.on('connect', () => this.liveSinceConnect.clear());
    local.on('message', (topic, payload, packet) => this.forwarded.set(packet, this.fromLocal(topic, payload, packet.retain)));
  }

  private wireRemote(): void {
    const { remote, opts } = this;
    const filters = opts.mappings.filter((m) => m.direction !== 'out').map(remoteFilter);
    remote.on('connect', (connack) => {
      opts.metrics.bridgeConnects.inc();
      opts.log.info(`bridge up to ${opts.remote.url} (session ${connack.sessionPresent ? 'resumed' : 'new'})`);
      const up: BridgeStateMessage = { state: 'up', ts: Date.now() };
      remote.publish(opts.stateTopic, encode(up), { qos: 1, retain: true });
      if (filters.length) remote.subscribe(filters, { qos: 1 });
      // A parent without our session (restarted) lost its retained copies too: send them all again.
      const republish = connack.sessionPresent ? [...this.staleRetained] : [...this.retained.keys()];
      this.staleRetained.clear();
      for (const topic of republish) void this.send(topic, this.retained.get(topic)!, 1, true);
      this.setState('up');
    });
    remote.on('close', () => {
      if (this.state === 'up') opts.log.warn(`bridge down (link to ${opts.remote.url} lost)`);
      this.setState('down');
    });
    remote.on('error', (err) => opts.log.warn(`bridge remote side: ${err.message}`));
    remote.on('message', (topic, payload, packet) => this.forwarded.set(packet, this.fromRemote(topic, payload)));
  }

  /** Forward a local message up; resolves when it may be acknowledged locally. */
  private async fromLocal(topic: string, payload: Buffer, storedCopy: boolean): Promise<void> {
    const { opts } = this;
    const mapped = mapOut(opts.mappings, topic);
    if (!mapped) return;
    if (mapped.retain) {
      // [MQTT-3.3.1-8] a retain-flagged delivery is the broker's stored copy, sent for our SUBSCRIBE. aedes reads
      // those ahead of delivery, so one can arrive after a newer live message on the same topic: the live one wins.
      if (storedCopy && this.liveSinceConnect.has(topic)) return;
      if (!storedCopy) this.liveSinceConnect.add(topic);
    }
    const problem = opts.check?.(topic, payload);
    if (problem) {
      opts.metrics.bridgeRejected.inc();
      opts.log.warn(`bridge: not forwarding ${topic}: ${problem}`);
      return;
    }
    if (mapped.retain) {
      if (payload.length === 0) this.retained.delete(mapped.topic);
      else this.retained.set(mapped.topic, payload);
    }
    // Retained state is not spooled while the link is down: its latest value is sent on reconnect.
    if (mapped.retain && !this.remote.connected) {
      this.staleRetained.add(mapped.topic);
      return;
    }
    if (mapped.qos === 1 && !opts.spool.admit(payload.length)) {
      opts.metrics.bridgeDropped.inc();
      opts.log.warn(`bridge: spool full, dropped ${topic}`);
      return;
    }
    return this.send(mapped.topic, payload, mapped.qos, mapped.retain);
  }

  /** Publish up (QoS 1 through the spool); resolves once the message is spooled (at once for QoS 0). */
  private send(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void> {
    this.opts.metrics.bridgeMessages.inc({ direction: 'up' });
    this.opts.metrics.bridgeBytes.inc({ direction: 'up' }, payload.length);
    return new Promise((resolve) =>
      publishStored(this.remote, topic, payload, { qos, retain }, () => {
        this.opts.metrics.bridgeBuffered.set(this.buffered);
        resolve();
      }),
    );
  }

  /** Forward a message from the parent down; resolves once the local broker has acknowledged it. */
  private async fromRemote(topic: string, payload: Buffer): Promise<void> {
    if (topic === this.opts.stateTopic) return;
    const mapped = mapIn(this.opts.mappings, topic);
    if (!mapped) return;
    this.opts.metrics.bridgeMessages.inc({ direction: 'down' });
    this.opts.metrics.bridgeBytes.inc({ direction: 'down' }, payload.length);
    await this.local.publishAsync(mapped.topic, payload, { qos: mapped.qos, retain: mapped.retain }).catch((err: Error) => {
      this.opts.log.warn(`bridge: ${mapped.topic} not delivered locally: ${err.message}`);
    });
  }

  /** Resolves once the remote link is up (immediately if it is). */
  whenUp(): Promise<void> {
    if (this.state === 'up') return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onState((s) => s === 'up' && (off(), resolve()));
    });
  }

  /** A clean stop says `down` itself (the will covers crashes). */
  async close(): Promise<void> {
    if (!this.remote) return;
    this.stopReconnecting();
    if (this.remote.connected) {
      const down: BridgeStateMessage = { state: 'down', ts: Date.now() };
      await this.remote.publishAsync(this.opts.stateTopic, encode(down), { qos: 1, retain: true }).catch(() => undefined);
    }
    // The remote end is forced: a graceful one waits for every unacknowledged message, forever while the parent is
    // away; those are in the spool and are sent again by the next start.
    await Promise.all([this.remote.endAsync(true), this.local.endAsync()]);
    this.setState('down');
  }
}
