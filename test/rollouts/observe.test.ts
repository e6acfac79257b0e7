import { describe, expect, it } from 'vitest';
import type { LiveDevice } from '../../coordinator/fleet/fleet-state.js';
import { observationOf } from '../../coordinator/rollouts/observe.js';
import { HealthMessage } from '../../shared/messages.js';

const health = (over: Record<string, unknown> = {}) =>
  HealthMessage.parse({
    ts: 1, seq: 1, intervalS: 1, agentVersion: '0.1.0', target: 't', arch: 'x64', platform: 'linux', nodeVersion: '20', uptimeS: 1,
    memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: null, invalidMessages: 0,
    children: [{ path: 'root/a', kind: 'worker', state: 'running', restarts: 0 }, { path: 'root/s', kind: 'supervisor', state: 'running', restarts: 0 }],
    ...over,
  });
const device = (over: Partial<LiveDevice> = {}): LiveDevice => ({ id: 'd', online: true, lastSeen: 1, health: health({ revision: 7, restartsTotal: 2 }), events: [], invalidMessages: 0, ...over });

describe('what a share core observes of a device, from the directory', () => {
  it('presence, the revision it runs, every worker running, restarts', () => {
    expect(observationOf(device())).toEqual({ online: true, revision: 7, allRunning: true, restartsTotal: 2, failed: undefined, rolledBack: undefined });
    const restarting = health({ children: [{ path: 'root/a', kind: 'worker', state: 'restarting', restarts: 1 }] });
    expect(observationOf(device({ health: restarting })).allRunning).toBe(false);
    // A tree without workers runs nothing: not "every child running".
    expect(observationOf(device({ health: health({ children: [] }) })).allRunning).toBe(false);
    expect(observationOf(undefined)).toMatchObject({ online: false, revision: null, allRunning: false, restartsTotal: 0 });
  });

  it('the last desired_failed and rolled_back events; a rollback known only from health still counts', () => {
    const events = [
      { ts: 1, seq: 1, type: 'desired_failed', data: { revision: 5, reason: 'old' } },
      { ts: 2, seq: 2, type: 'desired_failed', data: { revision: 7, reason: 'module fetch failed' } },
      { ts: 3, seq: 3, type: 'rolled_back', data: { revision: 7, to: 5, reason: 'its root supervisor gave up' } },
      { ts: 4, seq: 4, type: 'desired_failed', data: { revision: 'x' } },
    ];
    expect(observationOf(device({ events }))).toMatchObject({ failed: { revision: 7, reason: 'module fetch failed' }, rolledBack: { revision: 7, reason: 'its root supervisor gave up' } });
    expect(observationOf(device({ health: health({ rolledBack: 9 }) })).rolledBack).toEqual({ revision: 9, reason: 'reported in its health' });
  });
});
