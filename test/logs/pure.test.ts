import { describe, expect, it } from 'vitest';
import { LogForwarder } from '../../agent/log-forwarder.js';
import { withLastLine } from '../../agent/supervisor/runner.js';
import { LogRings } from '../../coordinator/logs/index.js';
import { matchesLogQuery } from '../../shared/log-match.js';
import { LogLine, type LogQuery } from '../../shared/logs.js';
import { KeyedBuckets, TokenBucket } from '../../shared/token-bucket.js';

const line = (ts: number, level: 'warn' | 'error' = 'warn', step?: string): LogLine => ({ ts, level, message: `line ${ts}`, ...(step ? { step } : {}) });
const all: LogQuery = { level: 'warn', limit: 500 };

describe('token bucket (fake clock)', () => {
  it('lets a burst through, then exactly the rate', () => {
    const bucket = new TokenBucket(2, 5, 0);
    let passed = 0;
    for (let i = 0; i < 100; i++) if (bucket.take(0)) passed++;
    expect(passed).toBe(5);
    // 10 s later at 2/s: 20 tokens would have arrived, but the bucket holds at most its burst.
    for (let i = 0; i < 100; i++) if (bucket.take(10_000)) passed++;
    expect(passed).toBe(10);
    // One token per 500 ms from an empty bucket.
    expect(bucket.take(10_499)).toBe(false);
    expect(bucket.take(10_500)).toBe(true);
  });

  it('over any window, accepts at most burst + rate × seconds', () => {
    const bucket = new TokenBucket(3, 7, 0);
    let passed = 0;
    for (let t = 0; t <= 60_000; t += 7) if (bucket.take(t)) passed++;
    expect(passed).toBeLessThanOrEqual(7 + 3 * 60);
    expect(passed).toBeGreaterThanOrEqual(3 * 60);
  });

  it('a clock that goes backwards refills nothing', () => {
    const bucket = new TokenBucket(1, 1, 10_000);
    expect(bucket.take(10_000)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(10_999)).toBe(false);
    expect(bucket.take(11_000)).toBe(true);
  });

  it('keyed buckets are independent and bounded in number', () => {
    const buckets = new KeyedBuckets(1, 1, 2);
    expect(buckets.take('a', 0)).toBe(true);
    expect(buckets.take('a', 0)).toBe(false);
    expect(buckets.take('b', 0)).toBe(true);
    expect(buckets.take('c', 0)).toBe(true); // evicts a, which starts over full
    expect(buckets.take('a', 0)).toBe(true);
  });
});

describe('log forwarder (agent side)', () => {
  it('sends warn and error lines only, per step rate-limited, and counts what it did not send', () => {
    let now = 0;
    const sent: LogLine[] = [];
    const forwarder = new LogForwarder({ send: (l) => (sent.push(l), true), ratePerS: 1, burst: 2, now: () => now });
    forwarder.record({ level: 'info', scope: 's', message: 'chatty' });
    forwarder.record({ level: 'debug', scope: 's', message: 'chattier' });
    for (let i = 0; i < 5; i++) forwarder.record({ level: 'warn', scope: 's', message: `w${i}`, step: 'root/a' });
    forwarder.record({ level: 'error', scope: 's', message: 'other step', step: 'root/b' });
    forwarder.record({ level: 'error', scope: 's', message: 'the agent itself' });
    expect(sent.map((l) => `${l.step ?? '-'} ${l.level} ${l.message}`)).toEqual(['root/a warn w0', 'root/a warn w1', 'root/b error other step', '- error the agent itself']);
    expect(forwarder.dropped).toBe(3);
    now = 1000;
    forwarder.record({ level: 'warn', scope: 's', message: 'later', step: 'root/a' });
    expect(sent.at(-1)).toEqual({ ts: 1000, level: 'warn', step: 'root/a', message: 'later' });
    expect(sent.every((l) => LogLine.safeParse(l).success)).toBe(true);
  });

  it('counts a line it could not send (link down) and cuts long lines to the schema bound', () => {
    const sent: LogLine[] = [];
    let up = false;
    const forwarder = new LogForwarder({ send: (l) => up && (sent.push(l), true), now: () => 0 });
    forwarder.record({ level: 'warn', scope: 's', message: 'offline' });
    expect(forwarder.dropped).toBe(1);
    up = true;
    forwarder.record({ level: 'warn', scope: 's', message: 'x'.repeat(5000) });
    expect(LogLine.safeParse(sent[0]).success).toBe(true);
    expect(sent[0].message.endsWith('…')).toBe(true);
  });

  it('does not forward a line logged while it is sending one (no feedback loop through the link layer)', () => {
    const sent: LogLine[] = [];
    const forwarder: LogForwarder = new LogForwarder({
      send: (l) => {
        sent.push(l);
        forwarder.record({ level: 'warn', scope: 'link', message: 'send failed' });
        return true;
      },
      now: () => 0,
    });
    forwarder.record({ level: 'error', scope: 's', message: 'one' });
    expect(sent.map((l) => l.message)).toEqual(['one']);
  });
});

describe('log rings (coordinator side)', () => {
  it('keeps the newest lines per device, oldest first', () => {
    const rings = new LogRings(3, 1000, 1000);
    for (let i = 1; i <= 5; i++) rings.add('d', line(i), 0);
    rings.add('e', line(9), 0);
    expect(rings.query('d', all).map((l) => l.ts)).toEqual([3, 4, 5]);
    expect(rings.query('e', all).map((l) => l.ts)).toEqual([9]);
    expect(rings.query('nobody', all)).toEqual([]);
  });

  it('refuses lines over the per-device rate and counts them', () => {
    const rings = new LogRings(100, 1, 2);
    expect([1, 2, 3, 4].map((i) => rings.add('d', line(i), 0))).toEqual([true, true, false, false]);
    expect(rings.dropped('d')).toBe(2);
    expect(rings.add('d', line(5), 1000)).toBe(true);
    expect(rings.add('other', line(6), 0)).toBe(true);
    rings.forget('d');
    expect(rings.dropped('d')).toBe(0);
  });

  it('filters by step (a path or a subtree), level, since and limit', () => {
    const rings = new LogRings(100, 1000, 1000);
    const lines = [line(1, 'warn', 'root/a'), line(2, 'error', 'root/a'), line(3, 'error', 'root/ab'), line(4, 'warn', 'root/g/x'), line(5, 'error')];
    for (const l of lines) rings.add('d', l, 0);
    const ts = (q: Partial<LogQuery>) => rings.query('d', { ...all, ...q }).map((l) => l.ts);
    expect(ts({ step: 'root/a' })).toEqual([1, 2]);
    expect(ts({ step: 'root/g' })).toEqual([4]);
    expect(ts({ level: 'error' })).toEqual([2, 3, 5]);
    expect(ts({ since: 3 })).toEqual([4, 5]);
    expect(ts({ limit: 2 })).toEqual([4, 5]);
    expect(matchesLogQuery(line(1), { level: 'warn', step: 'root' })).toBe(false);
  });
});

describe('exit reasons carry the last warn/error line', () => {
  it('appends it to abnormal reasons only, flattened and bounded', () => {
    expect(withLastLine('start_failed:init returned 2', 'config must be {"field": string, ...}')).toBe('start_failed:init returned 2: config must be {"field": string, ...}');
    expect(withLastLine('exit:3', 'bad\n  input')).toBe('exit:3: bad input');
    expect(withLastLine('normal', 'bye')).toBe('normal');
    expect(withLastLine('shutdown', 'bye')).toBe('shutdown');
    expect(withLastLine('trap:unreachable', undefined)).toBe('trap:unreachable');
    expect(withLastLine('timeout', 'y'.repeat(1000)).length).toBeLessThan(320);
  });
});
