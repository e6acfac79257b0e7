import { describe, expect, it } from 'vitest';
import type { ClusterNode, DeviceSummary } from '../../shared/api.js';
import { EMPTY_ROLLUP, countBy } from '../../shared/rollup.js';
import { clusterPaths, count, findCluster, matches, NO_FILTER, selectorOf } from '../../coordinator/dashboard/web/fleet-view.js';
import { href, parseRoute } from '../../coordinator/dashboard/web/route.js';

const device = (id: string, cluster: string, state: DeviceSummary['state'], extra: Partial<DeviceSummary> = {}): DeviceSummary => ({
  id,
  cluster,
  online: state === 'ok' || state === 'degraded',
  state,
  lastSeen: 1,
  arch: 'arm64',
  platform: 'linux',
  target: 'linux-arm64',
  agentVersion: '0.1.0',
  uptimeS: 1,
  rssBytes: 1,
  load1: 0,
  restartsTotal: 0,
  children: { running: 0, total: 0 },
  invalidMessages: 0,
  stepRefs: [],
  ...extra,
  labels: extra.labels ?? {},
  lastFailure: extra.lastFailure ?? null,
});

const fleet = [
  device('a', 'root', 'ok'),
  device('b', 'root/eu/paris', 'offline'),
  device('c', 'root/eu/berlin', 'degraded', { stepRefs: ['filter@2'] }),
  device('d', 'root/us/ohio', 'ok', { arch: null }),
];

describe('dashboard fleet view (pure)', () => {
  it('lists and finds cluster paths of the tree from GET /api/v1/clusters, by path levels', () => {
    const node = (path: string, children: ClusterNode[] = []): ClusterNode => ({
      name: path.split('/').at(-1)!,
      path,
      bridge: path.includes('/') ? 'up' : null,
      bridgeSince: null,
      own: EMPTY_ROLLUP,
      subtree: EMPTY_ROLLUP,
      updatedAt: null,
      children,
    });
    const root = node('root', [node('root/eu', [node('root/eu/paris'), node('root/eu/berlin')]), node('root/us')]);
    expect(clusterPaths(root)).toEqual(['root', 'root/eu', 'root/eu/paris', 'root/eu/berlin', 'root/us']);
    expect(findCluster(root, 'root/eu/berlin')?.name).toBe('berlin');
    expect(findCluster(root, 'root/e')).toBeUndefined();
    expect(findCluster(root, 'other/eu')).toBeUndefined();
  });

  it('filters by id, cluster subtree, arch, state and step', () => {
    const ids = (f: Partial<typeof NO_FILTER>) => fleet.filter((d) => matches(d, { ...NO_FILTER, ...f })).map((d) => d.id);
    expect(ids({ cluster: 'root/eu' })).toEqual(['b', 'c']);
    expect(ids({ cluster: 'root/e' })).toEqual([]); // a path prefix, not a string prefix
    expect(ids({ arch: 'unknown' })).toEqual(['d']);
    expect(ids({ state: 'degraded' })).toEqual(['c']);
    expect(ids({ step: 'FILTER' })).toEqual(['c']);
    expect(ids({ q: 'A' })).toEqual(['a']);
    expect(count(fleet)).toMatchObject({ total: 4, unknown: 0 });
    expect(countBy(fleet, (d) => d.arch).map(([k, c]) => [k, c.total])).toEqual([['arm64', 3], ['unknown', 1]]);
  });

  it('filters by a label selector (labels and built-ins); one that does not parse matches nothing and says why', () => {
    const labelled = [device('p1', 'root/eu/paris', 'ok', { labels: { site: 'paris', tier: 'prod' } }), device('p2', 'root/eu/paris', 'ok', { labels: { site: 'paris' } }), device('o1', 'root/us/ohio', 'ok')];
    const ids = (select: string) => labelled.filter((d) => matches(d, { ...NO_FILTER, select })).map((d) => d.id);
    expect(ids('site=paris,tier!=prod')).toEqual(['p2']);
    expect(ids('cluster=root/eu/**')).toEqual(['p1', 'p2']);
    expect(ids('!site')).toEqual(['o1']);
    expect(ids('')).toEqual(['p1', 'p2', 'o1']);
    expect(ids('site in')).toEqual([]);
    expect(selectorOf({ ...NO_FILTER, select: 'site in' }).error).toMatch(/column 8: expected "\(" after "in"/);
    expect(parseRoute(href.overview({ select: 'site=paris' }))).toEqual({ view: 'overview', filter: { ...NO_FILTER, select: 'site=paris' } });
    expect(parseRoute('#/rollouts')).toEqual({ view: 'rollouts' });
  });

  it('routes round-trip through the hash, including ids with slashes', () => {
    expect(parseRoute(href.device('eu/paris/pump-1'))).toEqual({ view: 'device', id: 'eu/paris/pump-1' });
    expect(parseRoute(href.cluster('root/eu'))).toEqual({ view: 'cluster', path: 'root/eu' });
    expect(parseRoute(href.overview({ state: 'offline', q: 'x' }))).toEqual({ view: 'overview', filter: { ...NO_FILTER, state: 'offline', q: 'x' } });
    expect(parseRoute('#/?state=bogus')).toEqual({ view: 'overview', filter: NO_FILTER });
  });
});
