import mqtt, { type MqttClient } from 'mqtt';
import { encode, type HealthMessage, type StatusMessage } from '../../shared/messages.js';
import { CONTRACT, deviceTopic } from '../../shared/topics.js';

/**
 * Lightweight simulated agents for the federation benchmark, many per process: each has its own mqtt.js session,
 * a retained status with a last will, schema-valid health every `intervalS` (spread over the interval), acks every
 * command, and can be switched to a degraded state on demand (a state change the root should see).
 */
export interface AckingFleet {
  /** Publish health with one child `restarting` (degraded) or all running (ok), now. */
  setDegraded(id: string, degraded: boolean): void;
  commandsAcked(): number;
  stop(): Promise<void>;
}

export async function startAckingFleet(mqttUrl: string, tokens: Record<string, string>, intervalS: number): Promise<AckingFleet> {
  const clients = new Map<string, MqttClient>();
  const degraded = new Set<string>();
  const seq = new Map<string, number>();
  let acked = 0;
  const started = Date.now();
  const health = (id: string): HealthMessage => ({
    ts: Date.now(),
    seq: seq.set(id, (seq.get(id) ?? 0) + 1).get(id)!,
    intervalS,
    agentVersion: '0.1.0',
    target: 'linux-x64',
    arch: 'x64',
    platform: 'linux',
    nodeVersion: process.versions.node,
    uptimeS: Math.round((Date.now() - started) / 1000),
    memory: { rss: 40e6, heapUsed: 10e6, heapTotal: 20e6 },
    load: [0.1, 0.1, 0.1],
    diskFreeBytes: null,
    invalidMessages: 0,
    children: [{ path: 'root/work', kind: 'worker', state: degraded.has(id) ? 'restarting' : 'running', restarts: 0 }],
    steps: [],
    rates: { in: 0, out: 0 },
    restartsTotal: 0,
  });
  const report = (id: string) => {
    const c = clients.get(id);
    if (c?.connected) c.publish(deviceTopic(id, 'health'), encode(health(id)), { qos: 1 });
  };
  const ids = Object.keys(tokens);
  // Connect in waves: a thousand simultaneous CONNECTs would only measure the accept queue.
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map(async (id) => {
        const offline: StatusMessage = { online: false, ts: 0 };
        const c = await mqtt.connectAsync(mqttUrl, { clientId: id, username: id, password: tokens[id], reconnectPeriod: 1000, clean: false, will: { topic: deviceTopic(id, 'status'), payload: encode(offline), qos: 1, retain: true } });
        c.on('message', (_t, payload) => {
          const { id: cmd } = JSON.parse(payload.toString()) as { id: string };
          acked++;
          c.publish(deviceTopic(id, 'ack'), encode({ id: cmd, ok: true, ts: Date.now() }), { qos: CONTRACT.ack.qos });
        });
        await c.subscribeAsync(deviceTopic(id, 'cmd'), { qos: 1 });
        await c.publishAsync(deviceTopic(id, 'status'), encode({ online: true, ts: Date.now() } satisfies StatusMessage), { qos: 1, retain: true });
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
    async stop() {
      for (const t of timers) clearTimeout(t);
      await Promise.all([...clients.values()].map((c) => c.endAsync(true)));
    },
  };
}
