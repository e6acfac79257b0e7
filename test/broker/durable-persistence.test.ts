import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { describe, expect, it } from 'vitest';
import { DurablePersistence, type StoredPacket } from '../../coordinator/broker/durable-persistence.js';
import { memoryLogger, tempDir } from '../helpers/cluster.js';

describe('durable broker persistence', () => {
  it("passes aedes-persistence's abstract test suite", async () => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', join(import.meta.dirname, 'abstract-suite.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const pass = Number(/# pass (\d+)/.exec(out)?.[1] ?? 0);
    const fail = Number(/# fail (\d+)/.exec(out)?.[1] ?? -1);
    expect({ code, fail }, out.slice(-3000)).toEqual({ code: 0, fail: 0 });
    expect(pass).toBeGreaterThanOrEqual(50); // the suite has 50 tests in aedes-persistence 11
  }, 120_000);

  it('restores sessions, queued QoS 1 messages, retained messages and wills from disk, across snapshots', async () => {
    const dir = tempDir();
    try {
      const broker = await Aedes.createBroker({ persistence: new DurablePersistence({ dir: dir.path, log: memoryLogger(), compactBytes: 4096 }) });
      const p = broker.persistence as DurablePersistence;
      const client = { id: 'sub-1' };
      await p.addSubscriptions(client as never, [{ topic: 'a/#', qos: 1 }] as never);
      const queued: StoredPacket[] = [];
      for (let i = 0; i < 200; i++) {
        const packet = { cmd: 'publish', topic: `a/${i}`, payload: Buffer.from(String(i)), qos: 1 as const, retain: false, brokerId: broker.id, brokerCounter: i + 1 };
        queued.push(packet);
        await p.outgoingEnqueueCombi([{ clientId: 'sub-1' }], packet);
      }
      // The first 50 were delivered and acknowledged; message 50 was sent (has an id) but not acknowledged.
      for (let i = 0; i <= 50; i++) await p.outgoingUpdate(client, { ...queued[i], messageId: i + 1 });
      for (let i = 0; i < 50; i++) await p.outgoingClearMessageId(client, { messageId: i + 1 });
      await p.storeRetained({ cmd: 'publish', topic: 'r/1', payload: Buffer.from('kept'), qos: 1, retain: true });
      await p.storeRetained({ cmd: 'publish', topic: 'r/2', payload: Buffer.from('gone'), qos: 1, retain: true });
      await p.storeRetained({ cmd: 'publish', topic: 'r/2', payload: Buffer.alloc(0), qos: 1, retain: true });
      await p.putWill(client, { cmd: 'publish', topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: true });
      // No clean close: a second broker reads the same directory, as after SIGKILL.
      const again = new DurablePersistence({ dir: dir.path, log: memoryLogger() });
      const broker2 = await Aedes.createBroker({ persistence: again });
      expect(await again.subscriptionsByClient(client)).toMatchObject([{ topic: 'a/#', qos: 1 }]);
      const left = (await again.outgoingStream(client).toArray()) as StoredPacket[];
      expect(left.map((x) => x.payload.toString())).toEqual(queued.slice(50).map((x) => x.payload.toString()));
      expect(left[0].messageId).toBe(51);
      const retained = (await again.createRetainedStream('r/#').toArray()) as StoredPacket[];
      expect(retained.map((r) => [r.topic, r.payload.toString()])).toEqual([['r/1', 'kept']]);
      const will = await again.getWill(client);
      expect({ topic: will?.topic, brokerId: will?.brokerId }).toEqual({ topic: 'w', brokerId: broker.id });
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => broker2.close(() => r()));
    } finally {
      dir.cleanup();
    }
  });

  it('bounds each session queue: beyond maxQueued new messages are dropped and reported, room returns as they are acknowledged', async () => {
    const dir = tempDir();
    try {
      const full: string[] = [];
      const p = new DurablePersistence({ dir: dir.path, log: memoryLogger(), maxQueued: 3, onQueueFull: (c) => full.push(c) });
      const broker = await Aedes.createBroker({ persistence: p });
      const packet = (i: number) => ({ cmd: 'publish', topic: 't', payload: Buffer.from(String(i)), qos: 1 as const, retain: false, brokerId: broker.id, brokerCounter: i });
      for (let i = 1; i <= 5; i++) await p.outgoingEnqueueCombi([{ clientId: 'slow' }, { clientId: 'fast' }], packet(i));
      const queued = async (id: string) => ((await p.outgoingStream({ id }).toArray()) as StoredPacket[]).map((x) => x.payload.toString());
      expect(await queued('slow')).toEqual(['1', '2', '3']);
      expect(full).toEqual(['slow', 'fast', 'slow', 'fast']);
      await p.outgoingUpdate({ id: 'slow' }, { ...packet(1), messageId: 7 });
      await p.outgoingClearMessageId({ id: 'slow' }, { messageId: 7 });
      await p.outgoingEnqueueCombi([{ clientId: 'slow' }], packet(6));
      expect(await queued('slow')).toEqual(['2', '3', '6']);
      await new Promise<void>((r) => broker.close(() => r()));
      await p.destroy();
    } finally {
      dir.cleanup();
    }
  });

  it('finds the retained message of an exact filter among thousands, scans only for wildcards, and journals nothing for a clean session\'s PUBACK', async () => {
    const dir = tempDir();
    try {
      const p = new DurablePersistence({ dir: dir.path, log: memoryLogger() });
      const broker = await Aedes.createBroker({ persistence: p });
      const retained = (topic: string, payload: string) => ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1 as const, retain: true });
      await Promise.all(Array.from({ length: 5_000 }, (_, i) => p.storeRetained(retained(`d/${i}/status`, String(i)))));
      await p.storeRetained(retained('$SYS/x', 'sys'));
      await p.storeRetained(retained('d/7/status', '')); // cleared
      const topics = async (filters: string[]) => ((await p.createRetainedStreamCombi(filters).toArray()) as StoredPacket[]).map((x) => x.payload.toString());
      expect(await topics(['d/42/status', 'd/7/status', 'nothing'])).toEqual(['42']);
      expect((await topics(['d/+/status'])).length).toBe(4_999);
      expect(await topics(['+/x'])).toEqual([]); // [MQTT-4.7.2-1]
      expect(await topics(['$SYS/#'])).toEqual(['sys']);
      // aedes clears the in-flight id of every PUBACK; a client with nothing queued has nothing to journal.
      const journalled = p['journal'].size;
      await Promise.all(Array.from({ length: 100 }, (_, id) => p.outgoingClearMessageId({ id: 'clean-client' }, { messageId: id + 1 })));
      expect(p['journal'].size).toBe(journalled);
      await new Promise<void>((r) => broker.close(() => r()));
      await p.destroy();
    } finally {
      dir.cleanup();
    }
  });
});
