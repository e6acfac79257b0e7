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
});

describe('health history ring', () => {
  it('holds one hour at the report interval and drops the oldest sample first', () => {
    expect(new HealthRing(10).capacity).toBe(360);
    expect(new HealthRing(1).capacity).toBe(3600);
    expect(new HealthRing(0.1).capacity).toBe(3600); // capped: never more than 3600 samples per device
    const ring = new HealthRing(1200); // 3 samples
    for (let i = 1; i <= 5; i++) ring.push(health(i, i * 1000));
    const cols = ring.columns();
    expect(cols.ts).toEqual([3, 4, 5]);
    expect(cols.rssBytes).toEqual([3000, 4000, 5000]);
    expect(cols.load1).toEqual([0.5, 0.5, 0.5]);
    expect(cols.stepsOutPerS).toEqual([2, 2, 2]);
  });

  it('starts over when the interval changes and forgets removed devices when new ones appear', () => {
    const alive = new Set(['a', 'b']);
    const history = new HealthHistory((id) => alive.has(id));
    history.record('a', health(1, 1, 10));
    history.record('a', health(2, 2, 10));
    history.record('a', health(3, 3, 5));
    expect(history.get('a')).toMatchObject({ intervalS: 5, capacity: 720, ts: [3] });
    expect(history.get('unknown')).toMatchObject({ intervalS: null, capacity: 0, ts: [] });
    alive.delete('a');
    history.record('b', health(4, 4));
    expect(history.deviceCount).toBe(1);
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
