import { connect as connectTcp, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, eventually, startCoordinator } from '../helpers/cluster.js';
import { metric } from '../helpers/metrics.js';

// Finding 2: an enrolled device subscribed to every device's outputs stops reading its socket. The broker cuts it
// off at its per-client bound (coordinator/broker/fair-delivery.ts); everyone else must see no delay beyond 1 s.
const tokens = { stalled: 'tok-stalled', talker: 'tok-talker', reader: 'tok-reader', healthy: 'tok-healthy' };
let cluster: Awaited<ReturnType<typeof startCoordinator>>;

beforeAll(async () => {
  cluster = await startCoordinator({ tokens });
});
afterAll(async () => {
  await cluster.stop();
});

/** A device that connects with a persistent session, subscribes to every device's outputs, then stops reading. */
async function stalledSubscriber(port: number): Promise<Socket> {
  const socket = connectTcp(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const packets: string[] = [];
  const parser = mqttPacket.parser();
  parser.on('packet', (p) => packets.push(p.cmd));
  socket.on('data', (d) => parser.parse(d));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'stalled', username: 'stalled', password: Buffer.from(tokens.stalled), clean: false, keepalive: 0 }));
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flotilla/d/+/out/#', qos: 1 }] }));
  await eventually(() => packets.includes('suback'), 5000, 'SUBACK');
  socket.removeAllListeners('data');
  socket.pause(); // stops reading: the kernel buffers fill, then the broker's
  return socket;
}

describe('fair delivery', () => {
  it('a subscriber that stops reading is cut off at its bound; others see no delay beyond 1 s (finding 2)', async () => {
    const stalled = await stalledSubscriber(cluster.coordinator.mqttPort);
    const talker = await connectDevice(cluster.mqttUrl, 'talker', tokens.talker);
    const reader = await connectDevice(cluster.mqttUrl, 'reader', tokens.reader, { clean: false });
    const healthy = await connectDevice(cluster.mqttUrl, 'healthy', tokens.healthy);
    let worst = 0;
    let received = 0;
    reader.on('message', (_t, payload) => {
      received++;
      worst = Math.max(worst, Date.now() - Number(payload.subarray(0, 13).toString()));
    });
    await reader.subscribeAsync('flotilla/d/talker/out/#', { qos: 1 });
    let healthWorst = 0;
    const filler = Buffer.alloc(16 * 1024, 'x');
    const sent = 1000; // 16 MB towards a socket no one reads: past loopback's kernel buffers (a few MB) and the bound
    for (let i = 0; i < sent; i++) {
      const sending = talker.publishAsync(deviceTopic('talker', 'out') + '/data', Buffer.concat([Buffer.from(String(Date.now())), filler]), { qos: 1 });
      // Paced by PUBACKs, so the delay measured at the reader is the broker's, not the publisher's own backlog.
      if (i % 10 === 0) await sending;
      if (i % 50 === 0) {
        // Another device's health meanwhile, timed until the coordinator has it.
        const t0 = Date.now();
        healthy.publish(deviceTopic('healthy', 'health'), JSON.stringify(health(i)), { qos: 1 });
        await eventually(() => cluster.coordinator.directory.live.get('healthy')?.health?.seq === i, 10_000, 'health');
        healthWorst = Math.max(healthWorst, Date.now() - t0);
      }
      await new Promise((r) => setImmediate(r));
    }
    await eventually(() => received >= sent, 20_000, 'every message at the reader');
    const delivery = cluster.coordinator['broker']!.delivery;
    console.log(`chaos stalled subscriber: ${sent} messages sent, 0 lost (all at the reader), worst delivery delay to others ${Math.max(worst, healthWorst)} ms (outputs ${worst} ms, health ${healthWorst} ms), ${delivery.slowDisconnects} slow subscriber(s) disconnected`);
    expect(delivery.slowDisconnects).toBeGreaterThanOrEqual(1);
    expect(worst).toBeLessThan(1000);
    expect(healthWorst).toBeLessThan(1000);
    stalled.destroy();
    await Promise.all([talker.endAsync(), reader.endAsync(), healthy.endAsync()]);
  }, 60_000);
});


function health(seq: number) {
  return {
    ts: Date.now(), seq, intervalS: 1, agentVersion: 't', target: 't', arch: 'x64', platform: 'linux', nodeVersion: 'v20', uptimeS: 1,
    memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: 1, invalidMessages: 0, children: [], steps: [],
    rates: { in: 0, out: 0 }, restartsTotal: 0,
  };
}
