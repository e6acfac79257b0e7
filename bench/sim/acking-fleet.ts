import mqtt, { type MqttClient } from 'mqtt';
import { EnrollResponse } from '../../shared/api.js';
import { encode, type ChildHealth, type EventMessage, type HealthMessage, type StatusMessage } from '../../shared/messages.js';
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
  /** With `followDesired`: every device that was sent a desired state using a step ref, by ref. */
  received(ref: string): string[];
  stop(): Promise<void>;
}

/** Devices report these architectures in turn, so views that group or filter by arch have something to show. */
const ARCHES = ['arm64', 'arm', 'x64', 'mipsel'];

/**
 * `followDesired`: devices also take their desired state (`flotilla/d/<id>/desired`): health then reports its
 * revision and one running worker per worker of its spec, at once, as an agent that applied it would; a spec using a
 * step ref for which it returns false is not applied: the device reports `desired_failed` for that revision instead.
 */
export interface FleetOptions {
  followDesired?: (ref: string) => boolean;
}

interface Applied {
  revision: number;
  workers: { path: string; step: string }[];
}

/** The workers of a desired spec, as paths and step refs (the shape is the coordinator's: trusted in a bench). */
function workersOf(spec: { id?: string; children?: unknown[] }, path = spec.id ?? 'root'): Applied['workers'] {
  return (spec.children ?? []).flatMap((c) => {
    const child = c as { id: string; step?: string; supervisor?: { children?: unknown[] } };
    return child.supervisor ? workersOf(child.supervisor, `${path}/${child.id}`) : [{ path: `${path}/${child.id}`, step: child.step ?? '' }];
  });
}

export async function startAckingFleet(mqttUrl: string, tokens: Record<string, string>, intervalS: number, opts: FleetOptions = {}): Promise<AckingFleet> {
  const applied = new Map<string, Applied>();
  const receivedBy = new Map<string, Set<string>>();
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
    children: (applied.get(id)?.workers ?? [{ path: 'root/ingest', step: 'ingest@1' }]).map((w): ChildHealth => ({ path: w.path, kind: 'worker', state: degraded.has(id) ? 'restarting' : 'running', restarts: 0, step: w.step })),
    steps: [...new Set((applied.get(id)?.workers ?? [{ step: 'ingest@1' }]).map((w) => w.step))].map((ref) => ({ ref, sha256: 'a'.repeat(64), size: 1024 })),
    ...(applied.has(id) ? { revision: applied.get(id)!.revision } : {}),
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
  const takeDesired = (id: string, c: MqttClient, payload: Buffer) => {
    if (payload.length === 0) return;
    const desired = JSON.parse(payload.toString()) as { revision: number; spec: { id?: string; children?: unknown[] } };
    if (desired.revision <= (applied.get(id)?.revision ?? -1)) return;
    const workers = workersOf(desired.spec);
    for (const w of workers) receivedBy.set(w.step, (receivedBy.get(w.step) ?? new Set()).add(id));
    if (workers.some((w) => !opts.followDesired!(w.step))) {
      const event: EventMessage = { ts: Date.now(), seq: seq.set(id, (seq.get(id) ?? 0) + 1).get(id)!, type: 'desired_failed', data: { revision: desired.revision, reason: 'start_failed: simulated' } };
      c.publish(deviceTopic(id, 'events'), encode(event), { qos: CONTRACT.events.qos });
      return;
    }
    applied.set(id, { revision: desired.revision, workers });
    report(id);
  };
  // Connect in waves: a thousand simultaneous CONNECTs would only measure the accept queue.
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        const offline: StatusMessage = { online: false, ts: 0 };
        // A loaded server may take long to accept 10,000 sessions: wait for it rather than fail the bench.
        const c = await mqtt.connectAsync(mqttUrl, { clientId: id, username: id, password: tokens[id], reconnectPeriod: 1000, connectTimeout: 300_000, clean: false, will: { topic: deviceTopic(id, 'status'), payload: encode(offline), qos: 1, retain: true } });
        c.on('error', () => {}); // mqtt.js reconnects by itself; a simulated device never gives up
        c.on('message', (topic, payload) => {
          if (topic === deviceTopic(id, 'desired')) return takeDesired(id, c, payload);
          const { id: cmd } = JSON.parse(payload.toString()) as { id: string };
          acked++;
          c.publish(deviceTopic(id, 'ack'), encode({ id: cmd, ok: true, ts: Date.now() }), { qos: CONTRACT.ack.qos });
        });
        // The session is persistent: a SUBSCRIBE or status lost to a dropped connection is sent again on the next one.
        for (;;) {
          try {
            await c.subscribeAsync([deviceTopic(id, 'cmd'), ...(opts.followDesired ? [deviceTopic(id, 'desired')] : [])], { qos: 1 });
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
    received: (ref) => [...(receivedBy.get(ref) ?? [])],
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
