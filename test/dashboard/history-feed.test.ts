import { describe, expect, it } from 'vitest';
import { HealthHistory, HealthRing, LiveFeed } from '../../coordinator/dashboard/index.js';
import type { HealthMessage } from '../../shared/messages.js';

const health = (ts: number, rss: number, intervalS = 10): HealthMessage => ({
  ts,
  seq: ts,
  intervalS,
  agentVersion: '0.1.0',
  target: 't',
  arch: 'x64',
  platform: 'linux',
  nodeVersion: '20',
  uptimeS: ts,
  memory: { rss, heapUsed: rss / 2, heapTotal: rss },
  load: [0.5, 0, 0],
  diskFreeBytes: null,
  invalidMessages: 0,
  children: [],
  steps: [],
  rates: { in: 1, out: 2 },
  restartsTotal: 0,
  logsDropped: 0,
});

describe('health history ring', () => {
  it('holds five minutes at the report interval and the rest of the hour as minute means', () => {
    expect(new HealthRing(10).capacity).toBe(30 + 55);
    expect(new HealthRing(1).capacity).toBe(300 + 55);
    expect(new HealthRing(0.01).capacity).toBe(3600); // capped: never more than 3600 samples per device
    expect(new HealthRing(1200).capacity).toBe(1 + 55);
    const ring = new HealthRing(100); // 3 recent samples, then minute means
    const minute = 60_000;
    // Samples 10 s apart: the first 3 are pushed out of the recent tier by the next 3, and fold into their minutes.
    for (const [i, ts] of [0, 10_000, 70_000, 80_000, 90_000, 130_000].entries()) ring.push(health(ts, (i + 1) * 1000));
    const cols = ring.columns();
    expect(cols.ts).toEqual([10_000, 70_000, 80_000, 90_000, 130_000]);
    expect(cols.rssBytes).toEqual([1500, 3000, 4000, 5000, 6000]); // minute 0: mean of 1000 and 2000; minute 1 folding: 3000
    expect(cols.ts[0]).toBeLessThan(minute);
    expect(cols.load1.every((v) => v === 0.5)).toBe(true);
    expect(cols.stepsOutPerS).toHaveLength(5);
  });

  it('a device reporting every second keeps the hour in 355 samples, oldest first', () => {
    const ring = new HealthRing(1);
    for (let s = 0; s < 3_600; s++) ring.push(health(s * 1000, s));
    const { ts, rssBytes } = ring.columns();
    expect(ts.length).toBeLessThanOrEqual(355 + 1);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
    expect(ts.at(-1)).toBe(3_599_000);
    expect(rssBytes.slice(-300)).toEqual(Array.from({ length: 300 }, (_, k) => 3_300 + k));
    expect(rssBytes[0]).toBeCloseTo(((ts[0] / 1000) * 2 - 59) / 2, 0); // the mean of its minute's 60 samples
  });

  it('starts over when the interval changes and forgets removed devices', () => {
    const history = new HealthHistory();
    history.record('a', health(1, 1, 10));
    history.record('a', health(2, 2, 10));
    history.record('a', health(3, 3, 5));
    expect(history.get('a')).toMatchObject({ intervalS: 5, capacity: 60 + 55, ts: [3] });
    expect(history.get('unknown')).toMatchObject({ intervalS: null, capacity: 0, ts: [] });
    history.record('b', health(4, 4));
    history.forget('a');
    expect(history.deviceCount).toBe(1);
    expect(history.get('a')).toMatchObject({ ts: [] });
  });
});

describe('live feed', () => {
  it('coalesces a device reported many times into one update and keeps events in order', () => {
    const feed = new LiveFeed();
    feed.change({ kind: 'online', id: 'a' });
    for (let i = 0; i < 5; i++) feed.change({ kind: 'health', id: 'a', health: health(i, 1) });
    feed.change({ kind: 'event', id: 'a', event: { ts: 1, seq: 1, type: 'child_started', data: {} } });
    feed.change({ kind: 'event', id: 'b', event: { ts: 2, seq: 1, type: 'child_terminated', data: {} } });
    feed.change({ kind: 'offline', id: 'b' });
    feed.change({ kind: 'remote_event', id: 'eu/c', event: { ts: 3, seq: 1, type: 'child_started', data: {} } });
    feed.change({ kind: 'clusters' });
    feed.change({ kind: 'clusters' });
    expect(feed.pending).toBe(true);
    const batch = feed.drain();
    // An event from below re-sends its device's summary (it may be the first news of it); a local one does not.
    expect(batch.deviceIds).toEqual(['a', 'b', 'eu/c']);
    expect(batch.events.map((e) => e.event.type)).toEqual(['child_started', 'child_terminated', 'child_started']);
    expect(batch.clusters).toBe(true);
    expect(feed.pending).toBe(false);
    expect(feed.drain()).toEqual({ deviceIds: [], events: [], clusters: false });
  });

  it('measures device messages per second and sums the step rates of online devices', () => {
    const feed = new LiveFeed();
    for (let i = 0; i < 10; i++) feed.change({ kind: 'health', id: `d${i % 2}`, health: health(i, 1) });
    expect(feed.rates(2000)).toEqual({ deviceMessagesPerS: 5, stepsInPerS: 2, stepsOutPerS: 4 });
    feed.change({ kind: 'offline', id: 'd0' });
    expect(feed.rates(1000)).toEqual({ deviceMessagesPerS: 1, stepsInPerS: 1, stepsOutPerS: 2 });
  });
});
