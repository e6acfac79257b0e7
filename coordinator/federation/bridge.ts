import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Backoff } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';
import { encode } from '../../shared/messages.js';
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
  /** Messages kept while the remote link is down; beyond it the oldest are dropped and counted. */
  bufferLimit: number;
  backoff?: { baseMs: number; capMs: number };
  keepaliveS?: number;
  /** Checks an outgoing message before it crosses; a returned reason drops it (counted as rejected). */
  check?(localTopic: string, payload: Buffer): string | undefined;
  metrics: Pick<CoordinatorMetrics, 'bridgeUp' | 'bridgeMessages' | 'bridgeBytes' | 'bridgeBuffered' | 'bridgeDropped' | 'bridgeRejected' | 'bridgeConnects'>;
  log: Logger;
}

interface Pending {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
}

/**
 * A Mosquitto-like bridge between the cluster broker (local) and the parent's broker (remote): two mqtt.js clients
 * with persistent sessions (clean: false, QoS 1), topic mappings as data, reconnect with backoff and jitter, a
 * retained state topic with a `down` last will, a bounded buffer while the link is down, and re-publication of the
 * latest retained state when the parent lost our session (its retained messages live in memory).
 */
export class Bridge {
  state: 'up' | 'down' = 'down';
  private local!: MqttClient;
  private remote!: MqttClient;
  private readonly backoff: Backoff;
  private readonly buffer: Pending[] = [];
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
    this.backoff = new Backoff(opts.backoff?.baseMs ?? 500, opts.backoff?.capMs ?? 30_000);
    opts.metrics.bridgeUp.set(0);
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
      reconnectPeriod: this.backoff.next(),
      will: { topic: opts.stateTopic, payload: encode(down), qos: 1, retain: true },
    });
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
    local.on('message', (topic, payload, packet) => this.fromLocal(topic, payload, packet.retain));
  }

  private wireRemote(): void {
    const { remote, opts } = this;
    const filters = opts.mappings.filter((m) => m.direction !== 'out').map(remoteFilter);
    remote.on('connect', (connack) => {
      this.backoff.reset();
      remote.options.reconnectPeriod = this.backoff.next();
      opts.metrics.bridgeConnects.inc();
      opts.log.info(`bridge up to ${opts.remote.url} (session ${connack.sessionPresent ? 'resumed' : 'new'})`);
      const up: BridgeStateMessage = { state: 'up', ts: Date.now() };
      remote.publish(opts.stateTopic, encode(up), { qos: 1, retain: true });
      if (filters.length) remote.subscribe(filters, { qos: 1 });
      // A parent without our session (restarted) lost its retained copies too: send them all again.
      const republish = connack.sessionPresent ? [...this.staleRetained] : [...this.retained.keys()];
      this.staleRetained.clear();
      for (const topic of republish) this.send(topic, this.retained.get(topic)!, 1, true);
      for (const p of this.buffer.splice(0)) this.send(p.topic, p.payload, p.qos, false);
      opts.metrics.bridgeBuffered.set(0);
      this.setState('up');
    });
    remote.on('close', () => {
      // mqtt.js reads reconnectPeriod when it schedules the next attempt: grow it with jitter.
      remote.options.reconnectPeriod = this.backoff.next();
      if (this.state === 'up') opts.log.warn(`bridge down (link to ${opts.remote.url} lost)`);
      this.setState('down');
    });
    remote.on('error', (err) => opts.log.warn(`bridge remote side: ${err.message}`));
    remote.on('message', (topic, payload) => this.fromRemote(topic, payload));
  }

  private fromLocal(topic: string, payload: Buffer, storedCopy: boolean): void {
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
    if (this.remote.connected) return this.send(mapped.topic, payload, mapped.qos, mapped.retain);
    if (mapped.retain) {
      this.staleRetained.add(mapped.topic);
      return;
    }
    this.buffer.push({ topic: mapped.topic, payload, qos: mapped.qos });
    if (this.buffer.length > opts.bufferLimit) {
      this.buffer.shift();
      opts.metrics.bridgeDropped.inc();
    }
    opts.metrics.bridgeBuffered.set(this.buffer.length);
  }

  private send(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): void {
    this.opts.metrics.bridgeMessages.inc({ direction: 'up' });
    this.opts.metrics.bridgeBytes.inc({ direction: 'up' }, payload.length);
    this.remote.publish(topic, payload, { qos, retain });
  }

  private fromRemote(topic: string, payload: Buffer): void {
    if (topic === this.opts.stateTopic) return;
    const mapped = mapIn(this.opts.mappings, topic);
    if (!mapped) return;
    this.opts.metrics.bridgeMessages.inc({ direction: 'down' });
    this.opts.metrics.bridgeBytes.inc({ direction: 'down' }, payload.length);
    this.local.publish(mapped.topic, payload, { qos: mapped.qos, retain: mapped.retain });
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
    if (this.remote.connected) {
      const down: BridgeStateMessage = { state: 'down', ts: Date.now() };
      await this.remote.publishAsync(this.opts.stateTopic, encode(down), { qos: 1, retain: true }).catch(() => undefined);
    }
    await Promise.all([this.remote.endAsync(), this.local.endAsync()]);
    this.setState('down');
  }
}
