import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { Backoff } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { Command, encode, decode, type AckMessage, type CommandType, type EventMessage, type StatusMessage } from '../shared/messages.js';
import { CONTRACT, deviceTopic, type DeviceTopicKind } from '../shared/topics.js';
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
  log: Logger;
}

type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;
export type CommandHandler<T extends CommandType> = (command: CommandOf<T>) => Promise<unknown> | unknown;
export type DesiredHandler = (payload: Buffer) => Promise<void> | void;

/** Recent events kept on the agent (the coordinator keeps its own copy of what it received). */
export const EVENT_RING_SIZE = 200;

/**
 * The agent's link to its coordinator: MQTT session with a retained online status and a last will that marks it
 * offline, health every `healthIntervalS` and on demand, events, and commands with acks. What runs steps plugs in
 * through `onCommand`, `onDesired` and `addHealthSource`.
 */
export class Agent {
  readonly client: MqttClient;
  readonly events: EventMessage[] = [];
  invalidMessages = 0;
  private healthSeq = 0;
  private eventSeq = 0;
  private readonly healthSources: (() => HealthContribution)[] = [];
  private readonly commandHandlers = new Map<CommandType, (c: Command) => Promise<unknown> | unknown>();
  private desiredHandler: DesiredHandler | undefined;
  private dataHandler: ((topic: string, payload: Buffer) => void) | undefined;
  private readonly backoff = new Backoff(500, 30_000);
  private stopHealthPeriod: (() => void) | undefined;
  private healthTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly opts: AgentOptions,
    readonly state: AgentState,
  ) {
    const offline: StatusMessage = { online: false, ts: 0 };
    this.client = mqtt.connect(opts.coordinatorUrl, {
      clientId: opts.id,
      username: opts.id,
      password: opts.token,
      // A persistent session: commands sent while the link is down are delivered on reconnect.
      clean: false,
      keepalive: 30,
      reconnectPeriod: this.backoff.next(),
      // Keep trying after a refused CONNECT too: the token may be enrolled later.
      reconnectOnConnackError: true,
      will: { topic: deviceTopic(opts.id, 'status'), payload: encode(offline), qos: CONTRACT.status.qos, retain: true },
      ca: opts.caFile ? readFileSync(opts.caFile) : undefined,
      rejectUnauthorized: true,
    });
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
    return new Agent(opts, state);
  }

  /** `open`, then wait until joined. */
  static async start(opts: AgentOptions): Promise<Agent> {
    const agent = await Agent.open(opts);
    await agent.joined;
    return agent;
  }

  private connected(): Promise<void> {
    const { client, opts, log } = { client: this.client, opts: this.opts, log: this.opts.log };
    client.on('connect', () => {
      this.backoff.reset();
      client.options.reconnectPeriod = this.backoff.next();
      log.info(`connected to ${opts.coordinatorUrl} as ${opts.id}`);
      this.publish('status', { online: true, ts: Date.now() } satisfies StatusMessage);
      this.reportHealth();
    });
    client.on('close', () => {
      // mqtt.js reads reconnectPeriod when it schedules the next attempt: grow it with jitter.
      client.options.reconnectPeriod = this.backoff.next();
    });
    client.on('error', (err) => log.warn(`coordinator link: ${err.message}`));
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
    // Subscriptions are queued by mqtt.js until connected, and kept by the persistent session afterwards.
    client.subscribe([deviceTopic(opts.id, 'cmd'), deviceTopic(opts.id, 'desired')], { qos: 1 });
    this.stopHealthPeriod = everyPeriod(opts.healthIntervalS * 1000, () => this.reportHealth());
    return new Promise((resolve) => client.once('connect', () => resolve()));
  }

  private dispatch(topic: string, payload: Buffer): void {
    if (topic === deviceTopic(this.opts.id, 'desired')) {
      if (payload.length === 0 || !this.desiredHandler) return;
      Promise.resolve(this.desiredHandler(payload)).catch((err) => this.rejectInput(topic, errorMessage(err)));
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

  /** Messages on any other subscribed topic (step inputs). */
  onData(handler: (topic: string, payload: Buffer) => void): void {
    this.dataHandler = handler;
  }

  addHealthSource(source: () => HealthContribution): void {
    this.healthSources.push(source);
  }

  /** Publish an event now (QoS 1; mqtt.js queues it while the link is down) and keep it in the local ring. */
  emitEvent(type: string, data: Record<string, unknown>): void {
    const event: EventMessage = { ts: Date.now(), seq: this.eventSeq++, type, data };
    this.events.push(event);
    if (this.events.length > EVENT_RING_SIZE) this.events.shift();
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
        contributions: this.healthSources.map((s) => s()),
      }).then(
        (health) => this.publish('health', health),
        (err) => this.opts.log.error(`health report failed: ${errorMessage(err)}`),
      );
    }, 50);
  }

  publish(kind: Exclude<DeviceTopicKind, 'out'>, message: unknown): void {
    const { qos, retain } = CONTRACT[kind];
    this.client.publish(deviceTopic(this.opts.id, kind), encode(message), { qos, retain });
  }

  async stop(): Promise<void> {
    this.stopHealthPeriod?.();
    clearTimeout(this.healthTimer);
    // A clean stop says so itself; the last will covers crashes and lost links.
    if (this.client.connected) {
      await this.client.publishAsync(deviceTopic(this.opts.id, 'status'), encode({ online: false, ts: Date.now() } satisfies StatusMessage), { qos: 1, retain: true });
    }
    await this.client.endAsync();
  }
}
