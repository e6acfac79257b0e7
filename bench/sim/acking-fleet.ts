import mqtt, { type MqttClient } from 'mqtt';
import { EnrollResponse } from '../../shared/api.js';
import { encode, type HealthMessage, type StatusMessage } from '../../shared/messages.js';
import { CONTRACT, deviceTopic } from '../../shared/topics.js';

/**
 * Lightweight simulated agents for the benches, many per process: each has its own mqtt.js session (clean: false),
 * speaks the real device protocol (retained status with a last will, schema-valid health every `intervalS`, spread
 * over the interval as unsynchronised clocks would be), acks every command, and can be switched to a degraded state
 * on demand (a state change a coordinator, or the root above it, should see). Nothing here is bench-specific.
 */
export interface AckingFleet {
  /** Publish health with one child `restarting` (degraded) or all running (ok), now. */
  setDegraded(id: string, degraded: boolean): void;
  commandsAcked(): number;
  /** Health messages published so far. */
  published(): number;
  stop(): Promise<void>;
}

/** Devices report these architectures in turn, so views that group or filter by arch have something to show. */
const ARCHES = ['arm64', 'arm', 'x64', 'mipsel'];

export async function startAckingFleet(mqttUrl: string, tokens: Record<string, string>, intervalS: number): Promise<AckingFleet> {
  const clients = new Map<string, MqttClient>();
  const degraded = new Set<string>();
  const seq = new Map<string, number>();
  let acked = 0;
  let published = 0;
  const started = Date.now();
  const ids = Object.keys(tokens);
  const index = new Map(ids.map((id, i) => [id, i]));
  const health = (id: string, k: number): HealthMessage => ({
    ts: Date.now(),
    seq: seq.set(id, (seq.get(id) ?? 0) + 1).get(id)!,
    intervalS,
    agentVersion: '0.1.0',
    target: `linux-${ARCHES[k % ARCHES.length]}`,
    arch: ARCHES[k % ARCHES.length],
    platform: 'linux',
    nodeVersion: process.versions.node,
    uptimeS: Math.round((Date.now() - started) / 1000),
    memory: { rss: 40e6 + (k % 50) * 1e6 + Math.random() * 2e6, heapUsed: 10e6 + Math.random() * 1e6, heapTotal: 20e6 },
    load: [Math.random() * 2, 0.5, 0.4],
    diskFreeBytes: 1e9,
    invalidMessages: 0,
    children: [{ path: 'root/ingest', kind: 'worker', state: degraded.has(id) ? 'restarting' : 'running', restarts: 0, step: 'ingest@1' }],
    steps: [{ ref: 'ingest@1', sha256: 'a'.repeat(64), size: 1024 }],
    rates: { in: 5, out: 5 },
    restartsTotal: 0,
    logsDropped: 0,
  });
  const report = (id: string) => {
    const c = clients.get(id);
    if (!c?.connected) return;
    published++;
    c.publish(deviceTopic(id, 'health'), encode(health(id, index.get(id)!)), { qos: CONTRACT.health.qos });
  };
  // Connect in waves: a thousand simultaneous CONNECTs would only measure the accept queue.
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        const offline: StatusMessage = { online: false, ts: 0 };
        // A loaded server may take long to accept 10,000 sessions: wait for it rather than fail the bench.
        const c = await mqtt.connectAsync(mqttUrl, { clientId: id, username: id, password: tokens[id], reconnectPeriod: 1000, connectTimeout: 300_000, clean: false, will: { topic: deviceTopic(id, 'status'), payload: encode(offline), qos: 1, retain: true } });
        c.on('error', () => {}); // mqtt.js reconnects by itself; a simulated device never gives up
        c.on('message', (_t, payload) => {
          const { id: cmd } = JSON.parse(payload.toString()) as { id: string };
          acked++;
          c.publish(deviceTopic(id, 'ack'), encode({ id: cmd, ok: true, ts: Date.now() }), { qos: CONTRACT.ack.qos });
        });
        // The session is persistent: a SUBSCRIBE or status lost to a dropped connection is sent again on the next one.
        for (;;) {
          try {
            await c.subscribeAsync(deviceTopic(id, 'cmd'), { qos: 1 });
            await c.publishAsync(deviceTopic(id, 'status'), encode({ online: true, ts: Date.now() } satisfies StatusMessage), { qos: 1, retain: true });
            break;
          } catch {
            await new Promise((r) => c.once('connect', r));
          }
        }
        clients.set(id, c);
      }),
    );
  }
  const timers: NodeJS.Timeout[] = [];
  ids.forEach((id, i) => {
    report(id);
    timers.push(
      setTimeout(() => {
        report(id);
        timers.push(setInterval(() => report(id), intervalS * 1000));
      }, Math.floor((i / ids.length) * intervalS * 1000)),
    );
  });
  return {
    setDegraded(id, on) {
      if (on) degraded.add(id);
      else degraded.delete(id);
      report(id);
    },
    commandsAcked: () => acked,
    published: () => published,
    async stop() {
      for (const t of timers) clearTimeout(t);
      await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
    },
  };
}

export interface SimulateFleetOptions {
  /** Coordinator HTTP base URL (devices are enrolled there) and its MQTT URL. */
  api: string;
  mqttUrl: string;
  apiToken?: string;
  count: number;
  intervalS: number;
  /** Ids are `<prefix>-0001`…; default `sim`. */
  prefix?: string;
}

/** Enroll `count` devices on one coordinator through its API (POST /api/v1/devices), then run them as a fleet. */
export async function simulateFleet(opts: SimulateFleetOptions): Promise<AckingFleet> {
  const ids = Array.from({ length: opts.count }, (_, i) => `${opts.prefix ?? 'sim'}-${String(i + 1).padStart(4, '0')}`);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiToken) headers.authorization = `Bearer ${opts.apiToken}`;
  const tokens: Record<string, string> = {};
  for (const id of ids) {
    const res = await fetch(`${opts.api}/api/v1/devices`, { method: 'POST', headers, body: JSON.stringify({ id }) });
    if (!res.ok) throw new Error(`enroll ${id}: HTTP ${res.status}`);
    tokens[id] = EnrollResponse.parse(await res.json()).token;
  }
  return startAckingFleet(opts.mqttUrl, tokens, opts.intervalS);
}
