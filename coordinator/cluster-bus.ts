import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { LogLine } from '../shared/logs.js';
import { AckMessage, type Command, type CommandBody, EventMessage, HealthMessage, StatusMessage, decode, encode } from '../shared/messages.js';
import { CONTRACT, allDevices, deviceTopic } from '../shared/topics.js';
import type { Dispatch } from './mqtt/dispatch.js';

export interface BusHandlers {
  status(id: string, msg: StatusMessage): void;
  health(id: string, msg: HealthMessage): void;
  event(id: string, msg: EventMessage): void;
  log(id: string, line: LogLine): void;
  /** A message on a device topic failed validation: it was dropped; `id` is the device it claimed to come from. */
  invalid(id: string | undefined, topic: string, reason: string): void;
}

export interface BusOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  handlers: BusHandlers;
  log: Logger;
}

/** Where QoS 0 device messages can be heard without a client (coordinator/broker/embedded-broker.ts). */
export interface InProcessSource {
  hear(filter: string, deliver: (topic: string, payload: Buffer) => void): Promise<void>;
}

export class CommandTimeoutError extends Error {
  override name = 'CommandTimeoutError';
}

/**
 * The coordinator's own MQTT client on its cluster broker (embedded aedes or an external broker alike):
 * it hears every device's status, health, events and acks, and sends commands.
 */
export class ClusterBus {
  private readonly pendingAcks = new Map<string, { resolve(ack: AckMessage): void; timer: NodeJS.Timeout }>();

  private constructor(
    readonly client: MqttClient,
    private readonly opts: BusOptions,
  ) {}

  static async connect(opts: BusOptions): Promise<ClusterBus> {
    const client = await mqtt.connectAsync(opts.url, {
      clientId: opts.clientId,
      username: opts.username,
      password: opts.password,
      clean: true,
      reconnectPeriod: 1000,
    });
    client.on('error', (err) => opts.log.warn(`cluster broker: ${err.message}`));
    return new ClusterBus(client, opts);
  }

  /**
   * Hear every device's status, health, events and acks, off the coordinator's one dispatch. With `inProcess` (the
   * embedded broker) health, the one kind of every device every second, is heard from the broker directly rather
   * than over loopback; an external broker's health comes through the client.
   */
  async start(dispatch: Dispatch, inProcess?: InProcessSource): Promise<void> {
    dispatch.on('device', (route, payload, topic) => this.fromDevice(route.id, route.level, topic, payload));
    const kinds = ['status', 'health', 'events', 'logs', 'ack'] as const;
    if (inProcess) await inProcess.hear(allDevices('health'), (topic, payload) => dispatch.receive(topic, payload));
    // Each kind at its contract QoS: health at 0 costs no PUBACK and no in-flight tracking per report.
    const overClient = kinds.filter((kind) => !(inProcess && kind === 'health'));
    await this.client.subscribeAsync(Object.fromEntries(overClient.map((kind) => [allDevices(kind), { qos: CONTRACT[kind].qos }])));
  }

  private fromDevice(id: string, level: string, topic: string, payload: Buffer): void {
    const h = this.opts.handlers;
    try {
      switch (level) {
        case 'status':
          // An empty retained payload clears the retained message ([MQTT-3.3.1-10]); nothing to record.
          if (payload.length > 0) h.status(id, decode(StatusMessage, payload, `status of ${id}`));
          break;
        case 'health':
          h.health(id, decode(HealthMessage, payload, `health of ${id}`));
          break;
        case 'events':
          h.event(id, decode(EventMessage, payload, `event of ${id}`));
          break;
        case 'logs':
          h.log(id, decode(LogLine, payload, `log line of ${id}`));
          break;
        case 'ack': {
          const ack = decode(AckMessage, payload, `ack of ${id}`);
          const pending = this.pendingAcks.get(`${id}\u0000${ack.id}`);
          if (pending) {
            clearTimeout(pending.timer);
            this.pendingAcks.delete(`${id}\u0000${ack.id}`);
            pending.resolve(ack);
          }
          break;
        }
      }
    } catch (err) {
      h.invalid(id, topic, errorMessage(err));
    }
  }

  /** Publish a command to a device and wait for its ack (or reject after `timeoutMs`). */
  send(deviceId: string, body: CommandBody, timeoutMs = 10_000): Promise<AckMessage> {
    const command: Command = { ...body, id: randomUUID() };
    const key = `${deviceId}\u0000${command.id}`;
    return new Promise<AckMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAcks.delete(key);
        reject(new CommandTimeoutError(`device ${deviceId} did not acknowledge ${command.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingAcks.set(key, { resolve, timer });
      this.client.publish(deviceTopic(deviceId, 'cmd'), encode(command), { qos: CONTRACT.cmd.qos }, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pendingAcks.delete(key);
        reject(err);
      });
    });
  }

  async close(): Promise<void> {
    for (const p of this.pendingAcks.values()) clearTimeout(p.timer);
    this.pendingAcks.clear();
    await this.client.endAsync();
  }
}
