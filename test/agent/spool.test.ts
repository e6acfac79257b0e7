import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { Spool } from '../../shared/spool.js';
import { deviceTopic } from '../../shared/topics.js';
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
      expect(again.ids().sort((a, b) => a - b)).toEqual(expected);
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
});
