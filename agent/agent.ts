import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Backoff } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { LogLine } from '../shared/logs.js';
import { Command, encode, decode, type AckMessage, type CommandType, type EventMessage, type StatusMessage } from '../shared/messages.js';
import { reconnectWithBackoff } from '../shared/reconnect.js';
import { Spool, publishStored } from '../shared/spool.js';
import { CONTRACT, deviceTopic, type DeviceTopicKind } from '../shared/topics.js';
import { REVOKED_TOPIC } from '../shared/revocations.js';
import { collectHealth, everyPeriod, type HealthContribution } from './health.js';
import { AgentState } from './state.js';

export interface AgentOptions {
  coordinatorUrl: string;
  id: string;
  token: string;
  dataDir: string;
  healthIntervalS: number;
  caFile?: string;
  target: string;
  /** Bytes of QoS 1 messages kept on disk while the link is down (default SPOOL_BYTES); beyond, new ones are dropped. */
  spoolBytes?: number;
  log: Logger;
}

/** Default spool bound: hours of a typical device's outputs, a small share of an edge device's flash. */
export const SPOOL_BYTES = 16 * 1024 * 1024;

type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;
export type CommandHandler<T extends CommandType> = (command: CommandOf<T>) => Promise<unknown> | unknown;
export type DesiredHandler = (payload: Buffer) => Promise<void> | void;

/**
 * The agent's link to its coordinator: MQTT session with a retained online status and a last will that marks it
 * offline, health every `healthIntervalS` and on demand, events, commands with acks, and step data both ways
 * (`onData` in, `publishOutput` out, `subscribe`/`unsubscribe` for inputs). Every QoS 1 message goes through a
 * bounded on-disk spool (mqtt.js's outgoing store), so outputs and events published while the link is down survive a
 * restart and are sent in order on reconnect; health is not spooled (a fresh report follows every connect). What
 * runs steps plugs in through `onCommand`, `onDesired`, `onData` and `addHealthSource`.
 */
export class Agent {
  readonly client: MqttClient;
  invalidMessages = 0;
  private healthSeq = 0;
  private eventSeq = 0;
  private readonly healthSources: (() => HealthContribution)[] = [];
  private readonly commandHandlers = new Map<CommandType, (c: Command) => Promise<unknown> | unknown>();
  private desiredHandler: DesiredHandler | undefined;
  private revocationsHandler: ((payload: Buffer) => Promise<void>) | undefined;
  private dataHandler: ((topic: string, payload: Buffer) => void) | undefined;
  /** Every filter this agent reads, to subscribe again when the broker has no session for it. */
  private readonly filters = new Set<string>();
  private readonly stopReconnecting: () => void;
  private stopHealthPeriod: (() => void) | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  private constructor(
    readonly opts: AgentOptions,
    readonly state: AgentState,
    readonly spool: Spool,
  ) {
    const offline: StatusMessage = { online: false, ts: 0 };
    this.client = mqtt.connect(opts.coordinatorUrl, {
      clientId: opts.id,
      username: opts.id,
      password: opts.token,
      // A persistent session: commands sent while the link is down are delivered on reconnect.
      clean: false,
      keepalive: 30,
      // Reconnects are scheduled by reconnectWithBackoff; keep trying after a refused CONNECT too (the token may
      // be enrolled later).
      reconnectPeriod: 0,
      reconnectOnConnackError: true,
      outgoingStore: spool,
      messageIdProvider: spool.messageIds(),
      will: { topic: deviceTopic(opts.id, 'status'), payload: encode(offline), qos: CONTRACT.status.qos, retain: true },
      ca: opts.caFile ? readFileSync(opts.caFile) : undefined,
      rejectUnauthorized: true,
      // mqtt-packet's number cache is 65,536 two-byte Buffers made at the first write: 6 MB of the agent's heap
      // (a heap snapshot's largest item, bench/README.md footprint) to save an allocation per packet.
      writeCache: false,
    });
    this.stopReconnecting = reconnectWithBackoff(this.client, new Backoff(500, 30_000));
    this.onCommand('ping', () => ({ pong: Date.now() }));
    this.joined = this.connected();
  }

  /** Resolves once the first connection to the coordinator is up. */
  readonly joined: Promise<void>;

  /**
   * Open local state and start connecting, without waiting for the link: an agent booted without network still
   * runs its last desired state.
   */
  static async open(opts: AgentOptions): Promise<Agent> {
    const state = await AgentState.open(opts.dataDir, opts.log);
    if (state.data.identity?.id !== opts.id || state.data.identity.coordinator !== opts.coordinatorUrl) {
      await state.update({ identity: { id: opts.id, coordinator: opts.coordinatorUrl } });
    }
    const spool = await Spool.open({
      dir: join(opts.dataDir, 'spool'),
      name: 'outgoing',
      log: opts.log.child('spool'),
      maxBytes: opts.spoolBytes ?? SPOOL_BYTES,
      // Health is QoS 0 now and never spooled; a spool left by an older agent (QoS 1 health) still sends only its latest.
      latestOnly: (topic) => topic === deviceTopic(opts.id, 'health'),
    });
    return new Agent(opts, state, spool);
  }

  /** `open`, then wait until joined. */
  static async start(opts: AgentOptions): Promise<Agent> {
    const agent = await Agent.open(opts);
    await agent.joined;
    return agent;
  }

  private connected(): Promise<void> {
    const { client, opts, log } = { client: this.client, opts: this.opts, log: this.opts.log };
    client.on('connect', (connack) => {
      log.info(`connected to ${opts.coordinatorUrl} as ${opts.id}${this.spool.stats.queued ? ` (${this.spool.stats.queued} spooled message(s) sent)` : ''}`);
      // A broker without our session (new, or it lost it) has none of our subscriptions.
      if (!connack.sessionPresent && this.filters.size) this.subscribeNow([...this.filters]);
      this.publish('status', { online: true, ts: Date.now() } satisfies StatusMessage);
      this.reportHealth();
    });
    // Once stopping, a failed reconnect is expected, not news.
    client.on('error', (err) => this.stopping || log.warn(`coordinator link: ${err.message}`));
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
    // Subscriptions are queued by mqtt.js until connected, and kept by the persistent session afterwards.
    this.subscribe([deviceTopic(opts.id, 'cmd'), deviceTopic(opts.id, 'desired'), REVOKED_TOPIC]);
    this.stopHealthPeriod = everyPeriod(opts.healthIntervalS * 1000, () => this.reportHealth());
    return new Promise((resolve) => client.once('connect', () => resolve()));
  }

  private dispatch(topic: string, payload: Buffer): void {
    if (topic === deviceTopic(this.opts.id, 'desired') || topic === REVOKED_TOPIC) {
      // Retained state: an empty payload clears the broker's copy and says nothing.
      const handler = topic === REVOKED_TOPIC ? this.revocationsHandler : this.desiredHandler;
      if (payload.length === 0 || !handler) return;
      Promise.resolve(handler(payload)).catch((err) => this.rejectInput(topic, errorMessage(err)));
      return;
    }
    if (topic !== deviceTopic(this.opts.id, 'cmd')) return this.dataHandler?.(topic, payload);
    let command: Command;
    try {
      command = decode(Command, payload, 'command');
    } catch (err) {
      return this.rejectInput(topic, errorMessage(err));
    }
    const handler = this.commandHandlers.get(command.type);
    const reply = (ack: Omit<AckMessage, 'ts' | 'id'>) => this.publish('ack', { id: command.id, ts: Date.now(), ...ack } satisfies AckMessage);
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`command "${command.type}" is not supported by this agent`);
        return handler(command);
      })
      .then(
        (result) => reply({ ok: true, result }),
        (err) => reply({ ok: false, error: errorMessage(err) }),
      );
  }

  /** An inbound message failed validation: dropped, logged, counted in health. */
  rejectInput(topic: string, reason: string): void {
    this.invalidMessages++;
    this.opts.log.warn(`dropped invalid message on ${topic}: ${reason}`);
  }

  onCommand<T extends CommandType>(type: T, handler: CommandHandler<T>): void {
    this.commandHandlers.set(type, handler as (c: Command) => unknown);
  }

  onDesired(handler: DesiredHandler): void {
    this.desiredHandler = handler;
  }

  /** The cluster's revoked keys (`flotilla/keys/revoked`, retained; only its coordinator may publish there). */
  onRevocations(handler: (payload: Buffer) => Promise<void>): void {
    this.revocationsHandler = handler;
  }

  /** Messages on any other subscribed topic (step inputs). */
  onData(handler: (topic: string, payload: Buffer) => void): void {
    this.dataHandler = handler;
  }

  /** Read `filters` (QoS 1), now and after any reconnect to a broker that lost our session. */
  subscribe(filters: string[]): void {
    for (const f of filters) this.filters.add(f);
    this.subscribeNow(filters);
  }

  unsubscribe(filters: string[]): void {
    for (const f of filters) this.filters.delete(f);
    this.client.unsubscribe(filters);
  }

  private subscribeNow(filters: string[]): void {
    this.client.subscribe(filters, { qos: 1 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (this.client.disconnecting) return; // stopping: nothing to report
      if (err || refused.length) this.opts.log.error(`subscription refused by the broker: ${refused.join(', ') || errorMessage(err)}`);
    });
  }

  /** A step's output, already resolved to its topic: spooled while the link is down. */
  publishOutput(topic: string, payload: Uint8Array): void {
    this.spooled(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), CONTRACT.out.qos, false);
  }

  addHealthSource(source: () => HealthContribution): void {
    this.healthSources.push(source);
  }

  /** Publish an event (QoS 1, spooled while the link is down). */
  emitEvent(type: string, data: Record<string, unknown>): void {
    const event: EventMessage = { ts: Date.now(), seq: this.eventSeq++, type, data };
    this.publish('events', event);
  }

  /**
   * Report health now. State changes call this directly; bursts of changes within 50 ms collapse into one report.
   */
  reportHealth(): void {
    if (this.healthTimer) return;
    this.healthTimer = setTimeout(() => {
      this.healthTimer = undefined;
      collectHealth({
        seq: this.healthSeq++,
        intervalS: this.opts.healthIntervalS,
        target: this.opts.target,
        dataDir: this.opts.dataDir,
        invalidMessages: this.invalidMessages,
        contributions: [...this.healthSources.map((s) => s()), { spool: { ...this.spool.stats } }],
      }).then(
        (health) => this.publish('health', health),
        (err) => this.opts.log.error(`health report failed: ${errorMessage(err)}`),
      );
    }, 50);
  }

  publish(kind: Exclude<DeviceTopicKind, 'out'>, message: unknown): void {
    // Stale health is worth nothing after an outage: a fresh report follows every connect.
    if (kind === 'health' && !this.client.connected) return;
    const { qos, retain } = CONTRACT[kind];
    this.spooled(deviceTopic(this.opts.id, kind), encode(message), qos, retain);
  }

  /** Publish through the spool's bound: what does not fit is dropped and counted (`spool.dropped` in health). */
  private spooled(topic: string, payload: Buffer | string, qos: 0 | 1, retain: boolean): void {
    if (qos === 1 && !this.spool.admit(Buffer.byteLength(payload))) {
      this.opts.log.warn(`spool full (${this.spool.stats.bytes} bytes): dropped a message to ${topic}`);
      return;
    }
    publishStored(this.client, topic, payload, { qos, retain });
  }

  /** Sends one log line now if the link is up (lines are not queued while offline); false if not sent. */
  sendLog(line: LogLine): boolean {
    if (!this.client.connected || this.stopping) return false;
    // Not spooled: log lines are lossy by design (docs/protocol.md "Logs"), and never worth a disk write each.
    this.client.publish(deviceTopic(this.opts.id, 'logs'), encode(line), { qos: CONTRACT.logs.qos, retain: CONTRACT.logs.retain });
    return true;
  }

  /** From now on link errors are expected (the agent is shutting down): they are no longer logged. */
  beginStop(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.beginStop();
    this.stopHealthPeriod?.();
    clearTimeout(this.healthTimer);
    // A clean stop says so itself; the last will covers crashes and lost links.
    if (this.client.connected) {
      await this.client.publishAsync(deviceTopic(this.opts.id, 'status'), encode({ online: false, ts: Date.now() } satisfies StatusMessage), { qos: 1, retain: true });
    }
    // Forced: a graceful end waits for every unacknowledged message, forever while the link is down; those are in
    // the spool and are sent again by the next start.
    await this.client.endAsync(true);
  }
}
