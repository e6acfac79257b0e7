import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { DurablePersistence, type StoredPacket } from '../../coordinator/broker/durable-persistence.js';
import { eventually, memoryLogger, tempDir } from '../helpers/cluster.js';

interface Running { broker: Aedes; server: Server; url: string; persistence: DurablePersistence }

async function start(dir: string): Promise<Running> {
  const persistence = new DurablePersistence({ dir, log: memoryLogger() });
  const broker = await Aedes.createBroker({ persistence });
  const server = createServer(broker.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { broker, server, persistence, url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function stop(r: Running): Promise<void> {
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
  await new Promise<void>((resolve) => r.broker.close(() => resolve()));
}

/** A persistent-session subscriber; with `ack: false` it sends no PUBACK, so what it gets stays in flight. */
async function subscriber(url: string, ack: boolean): Promise<{ client: MqttClient; got: IPublishPacket[]; next(): Promise<IPublishPacket> }> {
  const got: IPublishPacket[] = [];
  const waiters: ((p: IPublishPacket) => void)[] = [];
  // Set up before CONNACK, as a restored message follows it at once.
  const client = mqtt.connect(url, { clientId: 'sub', clean: false, reconnectPeriod: 0 });
  client.on('message', (_t, _m, p) => {
    got.push(p);
    waiters.shift()?.(p);
  });
  if (!ack) {
    // Its PUBACKs are lost, as when the connection drops before they are sent (mqtt.js would stall on an unanswered handleMessage).
    const c = client as unknown as { _sendPacket(p: { cmd: string }, cb?: () => void, ...rest: unknown[]): void };
    const send = c._sendPacket.bind(c);
    c._sendPacket = (p, cb, ...rest) => (p.cmd === 'puback' ? cb?.() : send(p, cb, ...rest));
  }
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  let seen = 0;
  const next = () => (seen < got.length ? Promise.resolve(got[seen++]) : new Promise<IPublishPacket>((r) => waiters.push((p) => (seen++, r(p)))));
  return { client, got, next };
}

const payloads = async (r: Running) => ((await r.persistence.outgoingStream({ id: 'sub' }).toArray()) as StoredPacket[]).map((p) => p.payload.toString()).sort();

describe('packet ids after a broker restart', () => {
  it('a new delivery never takes the id of a restored in-flight message, so neither is lost', async () => {
    const dir = tempDir();
    try {
      // 1. m1 is delivered and left unacknowledged; the broker goes away (its journal is all that is left).
      const first = await start(dir.path);
      const s1 = await subscriber(first.url, false);
      await s1.client.subscribeAsync('a/#', { qos: 1 });
      first.broker.publish({ cmd: 'publish', topic: 'a/1', payload: Buffer.from('m1'), qos: 1, retain: false, dup: false }, () => undefined);
      const m1 = await s1.next();
      s1.client.end(true);
      await stop(first);

      // 2. After the restart m1 is resent with its old id; the broker's counter is seeded so that the next new
      //    delivery gets the same id (aedes starts it at random, so this happens by chance in production).
      const second = await start(dir.path);
      const s2 = await subscriber(second.url, false);
      const resent = await s2.next();
      expect({ payload: resent.payload.toString(), id: resent.messageId }).toEqual({ payload: 'm1', id: m1.messageId });
      const client = (second.broker as unknown as { clients: Record<string, { _nextId: number }> }).clients.sub;
      client._nextId = m1.messageId!;
      const pub = await mqtt.connectAsync(second.url, { clientId: 'pub', reconnectPeriod: 0 });
      await pub.publishAsync('a/2', 'm2', { qos: 1 });
      const m2 = await s2.next();
      expect(m2.payload.toString()).toBe('m2');
      // Before the fix the persistence held m2 twice and m1 no more: m1 was never resent again.
      expect(await payloads(second)).toEqual(['m1', 'm2']);
      expect(m2.messageId).not.toBe(m1.messageId);
      s2.client.end(true);
      await pub.endAsync();
      await stop(second);

      // 3. After another restart (the new id was journalled) a subscriber that acknowledges gets both, with the
      //    ids it saw, and then nothing is owed.
      const third = await start(dir.path);
      const s3 = await subscriber(third.url, true);
      const again = [await s3.next(), await s3.next()].map((p) => [p.payload.toString(), p.messageId]);
      expect(again).toEqual([['m1', m1.messageId], ['m2', m2.messageId]]);
      await eventually(async () => (await payloads(third)).length === 0, 5000, 'both acknowledged');
      await s3.client.endAsync();
      await stop(third);
    } finally {
      dir.cleanup();
    }
  });
});
