import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { Spool, publishStored } from '../../shared/spool.js';
import { deviceTopic } from '../../shared/topics.js';
import { serveBroker } from '../helpers/broker.js';
import { eventually, memoryLogger, startCoordinator, tempDir } from '../helpers/cluster.js';

const packet = (messageId: number, topic: string, payload: string) => ({ cmd: 'publish' as const, messageId, topic, payload: Buffer.from(payload), qos: 1 as const, retain: false, dup: false });
const put = (s: Spool, p: ReturnType<typeof packet>) => new Promise<void>((resolve, reject) => s.put(p, (err) => (err ? reject(err) : resolve())));

describe('the on-disk spool (mqtt.js outgoing store)', () => {
  it('keeps unacknowledged messages across a reopen, in order, only the latest of a latest-only topic, within its bound', async () => {
    const dir = tempDir();
    try {
      const opts = { dir: dir.path, name: 'out', log: memoryLogger(), maxBytes: 1000, latestOnly: (t: string) => t === 'h' };
      const spool = await Spool.open(opts);
      for (let i = 1; i <= 300; i++) await put(spool, packet(i, i % 3 === 0 ? 'h' : 'o', `m${i}`));
      for (let i = 1; i <= 100; i++) spool.del({ messageId: i }, () => undefined); // acknowledged
      await new Promise<void>((r) => spool.close(() => r()));
      const again = await Spool.open(opts);
      const replayed = (await again.createStream().toArray()) as { messageId: number; topic: string }[];
      const expected = [...Array.from({ length: 200 }, (_, i) => i + 101).filter((i) => i % 3 !== 0), 300];
      expect(replayed.map((p) => p.messageId)).toEqual(expected);
      // The stale `h` messages are gone for good, not just skipped once.
      expect(((await again.createStream().toArray()) as { messageId: number }[]).map((p) => p.messageId)).toEqual(expected);
      expect(again.admit(1000)).toBe(false);
      expect(again.stats.dropped).toBe(1);
      await new Promise<void>((r) => again.close(() => r()));
    } finally {
      dir.cleanup();
    }
  });

  it('an agent whose link is down spools its events, survives a restart, and delivers them in order on reconnect (finding 7)', async () => {
    const dir = tempDir();
    const coordinatorDir = tempDir();
    try {
      const tokens = { 'sp-1': 'tok-sp-1' };
      let cluster = await startCoordinator({ tokens, dataDir: coordinatorDir.path });
      const port = cluster.coordinator.mqttPort;
      await cluster.stop();
      const opts = { coordinatorUrl: `mqtt://127.0.0.1:${port}`, id: 'sp-1', token: tokens['sp-1'], dataDir: dir.path, healthIntervalS: 1, target: 'test', log: memoryLogger() };
      const first = await Agent.open(opts);
      for (let seq = 0; seq < 50; seq++) first.emitEvent('tick', { n: seq });
      first.reportHealth();
      await eventually(() => first.spool.stats.queued === 50, 5000, '50 events spooled');
      await first.stop();

      cluster = await startCoordinator({ tokens, dataDir: coordinatorDir.path, mqttPort: port });
      const second = await Agent.open(opts);
      const events = () => cluster.coordinator.directory.live.get('sp-1')?.events ?? [];
      await eventually(() => events().length >= 50, 10_000, 'spooled events at the coordinator');
      expect(events().map((e) => e.data.n)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      await eventually(() => second.spool.stats.queued === 0, 5000, 'spool drained');
      await second.stop();
      await cluster.stop();
    } finally {
      dir.cleanup();
      coordinatorDir.cleanup();
    }
  });

  it('hands out no id the spool holds, each id once per connection, and none when all are taken', async () => {
    const dir = tempDir();
    try {
      const spool = await Spool.open({ dir: dir.path, name: 'out', log: memoryLogger(), maxBytes: 1 << 20 });
      for (const id of [1, 2, 4]) await put(spool, packet(id, 'o', 'm'));
      const ids = spool.messageIds();
      expect([ids.allocate(), ids.allocate()]).toEqual([3, 5]);
      expect(ids.register(4)).toBe(true); // a replayed message takes its own id back
      expect(ids.register(4)).toBe(false);
      ids.clear(); // a new connection
      expect(ids.register(3)).toBe(true);
      let free = 0;
      while (ids.allocate() !== null) free++;
      expect(free).toBe(65535 - 4);
      await new Promise<void>((r) => spool.close(() => r()));
    } finally {
      dir.cleanup();
    }
  });

  it('a replay cut short by a dropped link, then publishes while down: no new message takes a spooled one\'s id', async () => {
    const dir = tempDir();
    const opts = { dir: dir.path, name: 'out', log: memoryLogger(), maxBytes: 1 << 20 };
    const topic = 'flotilla/d/p/out/seq';
    const n = (i: number) => JSON.stringify({ n: i });
    // 40 messages spooled by a previous run, ids 1..40 (mqtt.js replays them one per PUBACK).
    const before = await Spool.open(opts);
    for (let i = 0; i < 40; i++) await put(before, { ...packet(i + 1, topic, n(i)) });
    await new Promise<void>((r) => before.close(() => r()));

    // A real broker that drops the publisher's link after its third PUBLISH, in the middle of the replay.
    const broker = await Aedes.createBroker();
    let publishes = 0;
    broker.authorizePublish = (client, _p, done) => {
      done(null);
      if (client?.id === 'p' && ++publishes === 3) setImmediate(() => client.conn.destroy());
    };
    const { url, close } = await serveBroker(broker);
    const seen = new Set<number>();
    const sink = await mqtt.connectAsync(url, { clientId: 'sink', clean: true });
    sink.on('message', (_t, payload) => seen.add((JSON.parse(payload.toString()) as { n: number }).n));
    await sink.subscribeAsync(topic, { qos: 1 });
    const spool = await Spool.open(opts);
    const client = mqtt.connect(url, { clientId: 'p', clean: false, reconnectPeriod: 0, outgoingStore: spool, messageIdProvider: spool.messageIds() });
    try {
      await new Promise<void>((r) => client.once('close', () => r()));
      // 20 new messages while the link is down: each must get an id no spooled message holds.
      await Promise.all(Array.from({ length: 20 }, (_, i) => new Promise<void>((r) => publishStored(client, topic, n(40 + i), { qos: 1, retain: false }, r))));
      expect(spool.stats.queued).toBeGreaterThanOrEqual(57);
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: spool }); // without, mqtt.js swaps in memory stores
      await eventually(() => seen.size === 60, 10_000, 'all 60 messages at the subscriber');
      await eventually(() => spool.stats.queued === 0, 5000, 'spool drained');
    } finally {
      await client.endAsync(true);
      await sink.endAsync();
      await close();
      dir.cleanup();
    }
  });

  it('a record it cannot write (full or read-only dir) is counted and never stalls the publisher; the message is still sent', async () => {
    const dir = tempDir();
    const failures: Error[] = [];
    const log = memoryLogger();
    const spool = await Spool.open({ dir: dir.path, name: 'out', log, maxBytes: 1 << 20, onWriteFailure: (err) => failures.push(err) });
    // The journal opens its log at the first write: with the dir gone that open fails, like a write to a full tmpfs.
    rmSync(dir.path, { recursive: true, force: true });
    const broker = await Aedes.createBroker();
    const { url, close } = await serveBroker(broker);
    const seen: string[] = [];
    const sink = await mqtt.connectAsync(url, { clientId: 'sink', clean: true });
    sink.on('message', (_t, payload) => seen.push(payload.toString()));
    await sink.subscribeAsync('t', { qos: 1 });
    const client = mqtt.connect(url, { clientId: 'p', clean: false, reconnectPeriod: 0, outgoingStore: spool, messageIdProvider: spool.messageIds() });
    let stored = 0;
    try {
      // Not connected yet: mqtt.js puts it in the store (and would never call back after a failed put)...
      publishStored(client, 't', 'offline', { qos: 1, retain: false }, () => stored++);
      await eventually(() => stored === 1, 5000, 'offline publish stored');
      await new Promise<void>((r) => (client.connected ? r() : client.once('connect', () => r())));
      // ...connected: mqtt.js swallows a failed put and sends nothing.
      publishStored(client, 't', 'online', { qos: 1, retain: false }, () => stored++);
      await eventually(() => stored === 2, 5000, 'online publish stored');
      await eventually(() => seen.length === 2, 5000, 'both messages at the subscriber');
      expect(seen).toEqual(['offline', 'online']);
      expect(failures.length).toBeGreaterThanOrEqual(2);
      expect(log.lines.some((l) => l.includes('write failed'))).toBe(true);
      await eventually(() => spool.stats.queued === 0, 5000, 'spool drained');
    } finally {
      await client.endAsync(true);
      await sink.endAsync();
      await close();
      dir.cleanup();
    }
  });
});
