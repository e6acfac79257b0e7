import { describe, expect, it } from 'vitest';
import { FleetState, healthState, summarize, type FleetChange } from '../../coordinator/fleet/fleet-state.js';
import type { HealthMessage } from '../../shared/messages.js';
import { Backoff } from '../../shared/backoff.js';

function health(intervalS: number, children: HealthMessage['children'] = []): HealthMessage {
  return {
    ts: 0, seq: 0, intervalS, agentVersion: '0.1.0', target: 't', arch: 'x64', platform: 'linux', nodeVersion: '20',
    uptimeS: 1, memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: null, invalidMessages: 0,
    children, steps: [], rates: { in: 0, out: 0 }, restartsTotal: 0,
  };
}

describe('FleetState (pure, fake clock)', () => {
  it('marks a device offline after two missed heartbeats, not after one', () => {
    let now = 0;
    const changes: FleetChange[] = [];
    const fleet = new FleetState(() => now, (c) => changes.push(c));
    fleet.health('d1', health(5));
    expect(fleet.get('d1')?.online).toBe(true);
    now = 10_000; // one missed report
    expect(fleet.sweep()).toEqual([]);
    now = 11_001; // 2 × 5 s + grace passed
    expect(fleet.sweep()).toEqual(['d1']);
    expect(changes.map((c) => c.kind)).toEqual(['online', 'health', 'offline']);
  });

  it('a last will (status offline) flips the device at once', () => {
    const fleet = new FleetState(() => 0, () => {});
    fleet.status('d1', true);
    fleet.status('d1', false);
    expect(healthState(fleet.get('d1'))).toBe('offline');
  });

  it('is degraded while any child is not running, and summarizes workers', () => {
    const fleet = new FleetState(() => 0, () => {});
    fleet.health('d1', health(5, [
      { path: 'root', kind: 'supervisor', state: 'running', restarts: 0 },
      { path: 'root/a', kind: 'worker', state: 'running', restarts: 2 },
      { path: 'root/b', kind: 'worker', state: 'restarting', restarts: 1 },
    ]));
    const s = summarize('d1', 'c', fleet.get('d1'), {});
    expect(s.state).toBe('degraded');
    expect(s.children).toEqual({ running: 1, total: 2 });
  });

  it('keeps a bounded ring of events', () => {
    const fleet = new FleetState(() => 0, () => {});
    for (let i = 0; i < 150; i++) fleet.event('d1', { ts: i, seq: i, type: 'x', data: {} });
    expect(fleet.get('d1')!.events).toHaveLength(100);
    expect(fleet.get('d1')!.events[0].seq).toBe(50);
  });
});

describe('Backoff', () => {
  it('grows exponentially up to the cap, with jitter inside [base, ceiling]', () => {
    const top = new Backoff(100, 1000, () => 1);
    expect([top.next(), top.next(), top.next(), top.next(), top.next()]).toEqual([100, 200, 400, 800, 1000]);
    const bottom = new Backoff(100, 1000, () => 0);
    expect([bottom.next(), bottom.next()]).toEqual([100, 100]);
    top.reset();
    expect(top.next()).toBe(100);
  });
});
