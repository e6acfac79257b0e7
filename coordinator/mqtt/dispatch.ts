import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import { routeTopic, topicLabel, type RouteKind, type TopicRoute } from './topic-route.js';

export type RouteHandler<K extends RouteKind> = (route: Extract<TopicRoute, { kind: K }>, payload: Buffer, topic: string) => void;
export type RouteTable = { [K in RouteKind]?: RouteHandler<K> };

/** Counts what crosses the client, by topic label (coordinator/metrics). */
export interface DispatchCounters {
  received(label: string): void;
  sent(label: string): void;
}

/**
 * The one place device and peer messages enter the coordinator: the 'message' listener of its MQTT client, and what
 * the embedded broker hands over in process (`receive`). Each topic is parsed once (topic-route.ts) and handed to
 * the handler of its kind, as aedes hands each packet type to its handler file. Adding a kind adds a row to the
 * table and a handler, nothing else.
 */
export class Dispatch {
  private readonly table: RouteTable = {};
  private started = false;

  constructor(
    private readonly client: MqttClient,
    private readonly counters: DispatchCounters,
  ) {}

  /** Register the handler of one kind (before `start`; one handler per kind). */
  on<K extends RouteKind>(kind: K, handler: RouteHandler<K>): this {
    if (this.table[kind]) throw new Error(`topic kind ${kind} already has a handler`);
    (this.table as Record<K, RouteHandler<K>>)[kind] = handler;
    return this;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.client.on('message', (topic, payload) => this.receive(topic, payload));
    this.client.on('packetsend', (packet: Packet) => {
      if (packet.cmd === 'publish') this.counters.sent(topicLabel(packet.topic));
    });
  }

  /** One message, from the client or from the embedded broker in process. */
  receive(topic: string, payload: Buffer): void {
    const route = routeTopic(topic);
    this.counters.received(route?.label ?? 'other');
    if (!route) return;
    const handler = this.table[route.kind] as RouteHandler<typeof route.kind> | undefined;
    handler?.(route as never, payload, topic);
  }
}
