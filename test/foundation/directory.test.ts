import { describe, expect, it } from 'vitest';
import { DeviceDirectory, type DeviceRecords, type DirectoryChange } from '../../coordinator/fleet/directory.js';
import type { HealthMessage } from '../../shared/messages.js';
import type { DeviceSummary } from '../../shared/api.js';

function health(children: HealthMessage['children'] = []): HealthMessage {
  return {
    ts: 0, seq: 0, intervalS: 5, agentVersion: '0.1.0', target: 't', arch: 'x64', platform: 'linux', nodeVersion: '20',
    uptimeS: 1, memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: null, invalidMessages: 0,
    children, steps: [], rates: { in: 0, out: 0 }, restartsTotal: 0,
  };
}

/** The registry's part the directory reads, in memory (the directory is pure; coordinator tests use the real one). */
function records(ids: string[]): DeviceRecords & { ids: Map<string, { facts?: never; lastSeen?: number }> } {
  const map = new Map(ids.map((id) => [id, {}]));
  return {
    ids: map,
    list: () => [...map.keys()].map((id) => ({ id, ...map.get(id) })),
    get: (id) => map.get(id),
    update: (id, patch) => map.has(id) && Object.assign(map.get(id)!, patch),
  };
}

const remote = (id: string, online: boolean): DeviceSummary => ({
  id, cluster: 'x', online, state: online ? 'ok' : 'offline', lastSeen: 1, arch: 'arm64', platform: 'linux', target: 't', agentVersion: '0.1.0',
  uptimeS: 1, rssBytes: 1, load1: 0, restartsTotal: 0, children: { running: 0, total: 0 }, invalidMessages: 0, stepRefs: [], labels: {},
});

describe('device directory (pure, fake clock)', () => {
  it('lists own and remote devices as API summaries, qualified ids sorted, one roll-up of each', () => {
    const reg = records(['b', 'a']);
    const dir = new DeviceDirectory('root', reg, () => 0);
    dir.live.health('a', health());
    dir.below.detail(['eu'], remote('p', true));
    dir.below.summary(['eu'], { ts: 0, cluster: 'eu', coordinatorVersion: '0', own: dir.below.childrenRollup(), subtree: { devices: { total: 1, online: 1, offline: 0, degraded: 0, unknown: 0 }, restartsTotal: 0, invalidMessages: 0, worst: 'ok' } });
    expect(dir.list().map((d) => [d.id, d.cluster, d.state])).toEqual([['a', 'root', 'ok'], ['b', 'root', 'unknown'], ['eu/p', 'root/eu', 'ok']]);
    expect(dir.ownRollup().devices).toEqual({ total: 2, online: 1, offline: 0, degraded: 0, unknown: 1 });
    expect(dir.rollup().subtree.devices).toEqual({ total: 3, online: 2, offline: 0, degraded: 0, unknown: 1 });
    // GET /api/v1/clusters reads the same roll-up as GET /api/v1/cluster.
    expect(dir.tree().own).toEqual(dir.ownRollup());
    expect(dir.detail('a')).toMatchObject({ id: 'a', health: { arch: 'x64' }, events: [] });
    expect(dir.detail('eu/p')).toMatchObject({ id: 'eu/p', cluster: 'root/eu', health: null, tree: [] });
    expect(dir.summary('eu/q')).toBeUndefined();
    expect(reg.ids.get('a')).toMatchObject({ facts: { arch: 'x64' }, lastSeen: 0 });
  });

  it('feeds one change stream: own devices, devices below, and `clusters` only when a roll-up moves', () => {
    const reg = records(['a']);
    let now = 0;
    const dir = new DeviceDirectory('root', reg, () => now);
    const seen: DirectoryChange[] = [];
    dir.onChange((c) => seen.push(c));
    const kinds = () => seen.splice(0).map((c) => ('id' in c ? `${c.kind}:${c.id}` : c.kind));

    dir.live.health('a', health());
    expect(kinds()).toEqual(['online:a', 'clusters', 'health:a']);
    now = 1000;
    dir.live.health('a', health()); // same state, same counts: no roll-up change
    expect(kinds()).toEqual(['health:a']);
    dir.live.health('a', health([{ path: 'root/w', kind: 'worker', state: 'restarting', restarts: 1 }]));
    expect(kinds()).toEqual(['health:a', 'clusters']);

    reg.ids.set('n', {});
    dir.enrolled('n');
    expect(kinds()).toEqual(['enrolled:n', 'clusters']);
    reg.ids.delete('n');
    dir.removed('n');
    expect(kinds()).toEqual(['removed:n', 'clusters']);

    dir.below.detail(['eu'], remote('p', true));
    dir.below.event(['eu'], 'p', { ts: 1, seq: 1, type: 'child_started', data: {} });
    dir.below.event(['eu'], 'unknown', { ts: 1, seq: 1, type: 'child_started', data: {} });
    dir.below.alive(['eu'], { ts: 5, heardAt: 5 });
    dir.below.alive(['eu'], { ts: 6, heardAt: 5 }); // nothing moved
    dir.below.remove(['eu'], 'p');
    expect(kinds()).toEqual(['clusters', 'remote:eu/p', 'remote_event:eu/p', 'remote:eu/p', 'remote:eu/p']);
    expect(dir.summary('eu/p')).toBeUndefined();
  });
});
