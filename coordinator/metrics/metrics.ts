import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryStats } from '../broker/fair-delivery.js';
import type { DeviceDirectory } from '../fleet/directory.js';

/** Per-device series are exported for at most this many own devices (by id); the rest are counted, not labelled. */
export const MAX_DEVICE_SERIES = 256;

/** Where a rejected message came from (docs/api.md, "Metrics"). */
export type InvalidSource = 'device' | 'uplink' | 'request' | 'fetch';

/**
 * The coordinator's metrics (docs/api.md, "Metrics"), in a prom-client registry of its own (several coordinators
 * run in one test process; the global registry would mix them). Every label has a bounded set of values: topic
 * labels (coordinator/mqtt/topic-route.ts), sources, HTTP statuses, request ops, and at most MAX_DEVICE_SERIES ids.
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly reg = [this.registry];

  readonly messagesIn = new Counter({ name: 'flotilla_mqtt_messages_in_total', help: 'MQTT messages received by the coordinator, by topic kind', labelNames: ['kind'], registers: this.reg });
  readonly messagesOut = new Counter({ name: 'flotilla_mqtt_messages_out_total', help: 'MQTT messages published by the coordinator, by topic kind', labelNames: ['kind'], registers: this.reg });
  readonly invalid = new Counter({ name: 'flotilla_invalid_messages_total', help: 'Messages rejected as malformed, by source', labelNames: ['source'], registers: this.reg });
  readonly denied = new Counter({ name: 'flotilla_denied_requests_total', help: 'CONNECT, PUBLISH and SUBSCRIBE refused by the embedded broker', labelNames: ['action'], registers: this.reg });
  readonly httpErrors = new Counter({ name: 'flotilla_http_errors_total', help: 'HTTP requests answered with an error, by status', labelNames: ['status'], registers: this.reg });
  readonly requests = new Counter({ name: 'flotilla_federation_requests_total', help: 'Requests handled for this cluster (from the parent or its own API), by op', labelNames: ['op'], registers: this.reg });
  readonly bridgeUp = new Gauge({ name: 'flotilla_bridge_up', help: '1 while the bridge to the parent is up (absent without a parent)', registers: this.reg });
  readonly bridgeMessages = new Counter({ name: 'flotilla_bridge_messages_total', help: 'Messages the bridge forwarded, by direction', labelNames: ['direction'], registers: this.reg });
  readonly bridgeBytes = new Counter({ name: 'flotilla_bridge_bytes_total', help: 'Payload bytes the bridge forwarded, by direction', labelNames: ['direction'], registers: this.reg });
  readonly bridgeBuffered = new Gauge({ name: 'flotilla_bridge_buffered_messages', help: 'Uplink messages buffered while the parent is unreachable', registers: this.reg });
  readonly bridgeDropped = new Counter({ name: 'flotilla_bridge_dropped_total', help: 'Buffered uplink messages dropped (buffer full)', registers: this.reg });
  readonly bridgeRejected = new Counter({ name: 'flotilla_bridge_rejected_total', help: 'Messages from below not forwarded up because they were invalid', registers: this.reg });
  readonly bridgeConnects = new Counter({ name: 'flotilla_bridge_connects_total', help: 'Connections of the bridge to the parent', registers: this.reg });
  readonly modulesServed = new Counter({ name: 'flotilla_modules_served_total', help: 'Step modules sent, to devices or child coordinators', labelNames: ['to'], registers: this.reg });
  readonly modulesNotFound = new Counter({ name: 'flotilla_modules_not_found_total', help: 'Module fetches answered "not available"', registers: this.reg });
  readonly modulesUpstream = new Counter({ name: 'flotilla_modules_fetched_upstream_total', help: 'Modules fetched from the parent (each at most once while cached)', registers: this.reg });
  readonly modulesUpstreamBytes = new Counter({ name: 'flotilla_modules_upstream_bytes_total', help: 'Bytes of modules fetched from the parent', registers: this.reg });
  readonly storeWrite = new Histogram({ name: 'flotilla_store_write_seconds', help: 'Durable store commits (write + fsync + rename)', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: this.reg });
  /** `file`: the base name of a data dir file (registry.json, revocations.json, ...) or `agent-artifacts` (the artifacts' directory: their own names hold a sha256). */
  readonly storeWriteFailures = new Counter({ name: 'flotilla_store_write_failures_total', help: 'Durable writes that failed (full or read-only data dir), by file', labelNames: ['file'], registers: this.reg });
  readonly unhandledRejections = new Counter({ name: 'flotilla_unhandled_rejections_total', help: 'Promise rejections nobody handled (each is logged with its origin)', registers: this.reg });

  /** Gauges read when scraped: broker clients by kind, devices by state (shared/rollup.ts), per-device health. */
  watch(sources: { directory: DeviceDirectory; broker?: { clientsByKind(): Record<string, number>; delivery: DeliveryStats } }): void {
    const { directory, broker } = sources;
    const reg = this.reg;
    if (broker) {
      new Gauge({
        name: 'flotilla_broker_clients', help: 'Clients connected to the embedded broker, by kind (device, child, internal)', labelNames: ['kind'], registers: reg,
        collect() {
          this.reset();
          for (const [kind, n] of Object.entries(broker.clientsByKind())) this.set({ kind }, n);
        },
      });
      // The broker's delivery bound counts in plain numbers (coordinator/broker/fair-delivery.ts); read when scraped.
      const counted = (name: string, help: string, read: () => number) =>
        new Counter({
          name, help, registers: reg,
          collect() {
            this.reset();
            this.inc(read());
          },
        });
      counted('flotilla_broker_dropped_qos0_total', 'QoS 0 messages not sent to a client over its outgoing buffer bound', () => broker.delivery.droppedQos0);
      counted('flotilla_broker_slow_disconnects_total', 'Clients disconnected for a QoS 1 message over their outgoing buffer bound', () => broker.delivery.slowDisconnects);
      counted('flotilla_broker_session_queue_full_total', 'QoS 1 messages not queued for a persistent session whose queue was full', () => broker.delivery.queueFull);
    }
    new Gauge({
      name: 'flotilla_devices', help: 'Devices by state, own (scope="own") and own plus below (scope="subtree"); docs/api.md "Device states"', labelNames: ['scope', 'state'], registers: reg,
      collect() {
        this.reset();
        const rollup = directory.rollup();
        for (const scope of ['own', 'subtree'] as const) {
          for (const [state, n] of Object.entries(rollup[scope].devices)) this.set({ scope, state }, n);
        }
      },
    });
    const perDevice = (name: string, help: string, read: (d: ReturnType<DeviceDirectory['ownSummaries']>[number]) => number | null) =>
      new Gauge({
        name, help: `${help} (own devices, at most ${MAX_DEVICE_SERIES} by id)`, labelNames: ['device'], registers: reg,
        collect() {
          this.reset();
          for (const d of exported(directory)) {
            const v = read(d);
            if (v !== null) this.set({ device: d.id }, v);
          }
        },
      });
    perDevice('flotilla_device_online', '1 while the device is online', (d) => (d.online ? 1 : 0));
    perDevice('flotilla_device_restarts', 'Child restarts the agent reported', (d) => d.restartsTotal);
    perDevice('flotilla_device_invalid_messages', 'Invalid messages the agent and the coordinator counted for the device', (d) => d.invalidMessages);
    perDevice('flotilla_device_rss_bytes', 'Resident memory of the agent', (d) => d.rssBytes);
    perDevice('flotilla_device_uptime_seconds', 'Uptime of the agent', (d) => d.uptimeS);
    new Gauge({
      name: 'flotilla_device_series_omitted', help: `Own devices beyond the first ${MAX_DEVICE_SERIES} (by id), without per-device series`, registers: reg,
      collect() {
        this.set(Math.max(0, directory.ownIds().length - MAX_DEVICE_SERIES));
      },
    });
  }

  /** The sum over all labels of a counter (what `GET /api/v1/cluster` shows of it). */
  async total(counter: Counter<string>): Promise<number> {
    return (await counter.get()).values.reduce((n, v) => n + v.value, 0);
  }

  /** The text exposition (Prometheus 0.0.4) and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

function exported(directory: DeviceDirectory) {
  return directory.ownSummaries().sort((a, b) => a.id.localeCompare(b.id)).slice(0, MAX_DEVICE_SERIES);
}
