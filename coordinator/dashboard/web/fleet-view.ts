import type { DeviceSummary, HealthState } from '../../../shared/api.js';

/** Pure views over device summaries: filtering, counting and the rolled-up cluster tree. No DOM here. */

export interface Filter {
  /** Substring of the device id. */
  q: string;
  cluster: string;
  arch: string;
  state: '' | HealthState;
  /** Substring of an installed step's ref. */
  step: string;
}

export const NO_FILTER: Filter = { q: '', cluster: '', arch: '', state: '', step: '' };

export function matches(d: DeviceSummary, f: Filter): boolean {
  if (f.q && !d.id.toLowerCase().includes(f.q.toLowerCase())) return false;
  // A cluster filter includes the subtree: `eu` matches devices of `eu/site-1`.
  if (f.cluster && d.cluster !== f.cluster && !d.cluster.startsWith(`${f.cluster}/`)) return false;
  if (f.arch && (d.arch ?? 'unknown') !== f.arch) return false;
  if (f.state && d.state !== f.state) return false;
  if (f.step && !d.stepRefs.some((ref) => ref.toLowerCase().includes(f.step.toLowerCase()))) return false;
  return true;
}

export interface Counts {
  total: number;
  online: number;
  offline: number;
  degraded: number;
  unknown: number;
}

export function emptyCounts(): Counts {
  return { total: 0, online: 0, offline: 0, degraded: 0, unknown: 0 };
}

function add(c: Counts, d: DeviceSummary): void {
  c.total++;
  if (d.online) c.online++;
  if (d.state === 'offline') c.offline++;
  else if (d.state === 'degraded') c.degraded++;
  else if (d.state === 'unknown') c.unknown++;
}

export function count(devices: Iterable<DeviceSummary>): Counts {
  const c = emptyCounts();
  for (const d of devices) add(c, d);
  return c;
}

/** Counts per value of `key` (null → "unknown"), sorted by name. */
export function countBy(devices: Iterable<DeviceSummary>, key: (d: DeviceSummary) => string | null): [string, Counts][] {
  const groups = new Map<string, Counts>();
  for (const d of devices) {
    const k = key(d) ?? 'unknown';
    let c = groups.get(k);
    if (!c) groups.set(k, (c = emptyCounts()));
    add(c, d);
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b));
}

/** The worst state in a group decides its colour: offline > degraded > unknown > ok. */
export function rollup(c: Counts): HealthState {
  if (c.offline > 0) return 'offline';
  if (c.degraded > 0) return 'degraded';
  if (c.total > 0 && c.unknown === c.total) return 'unknown';
  return 'ok';
}

export interface ClusterNode {
  name: string;
  /** Cluster path from the root, `/`-joined (the device summary's `cluster`). */
  path: string;
  /** Devices of this cluster and all clusters below it. */
  counts: Counts;
  children: ClusterNode[];
}

/**
 * The cluster tree (root → region → site) from cluster paths: those of the devices, plus `known` paths of clusters
 * that have no devices yet. Each node's counts roll up its whole subtree.
 */
export function clusterTree(devices: Iterable<DeviceSummary>, known: string[] = []): ClusterNode[] {
  const roots: ClusterNode[] = [];
  const nodes = new Map<string, ClusterNode>();
  const node = (path: string): ClusterNode => {
    let n = nodes.get(path);
    if (n) return n;
    const cut = path.lastIndexOf('/');
    n = { name: path.slice(cut + 1), path, counts: emptyCounts(), children: [] };
    nodes.set(path, n);
    (cut < 0 ? roots : node(path.slice(0, cut)).children).push(n);
    return n;
  };
  for (const path of known) node(path);
  for (const d of devices) {
    for (let n: ClusterNode | undefined = node(d.cluster), p = d.cluster; n; ) {
      add(n.counts, d);
      const cut = p.lastIndexOf('/');
      if (cut < 0) break;
      p = p.slice(0, cut);
      n = nodes.get(p);
    }
  }
  const sort = (list: ClusterNode[]) => {
    list.sort((a, b) => a.name.localeCompare(b.name));
    for (const n of list) sort(n.children);
  };
  sort(roots);
  return roots;
}

/** Every cluster path of a tree, parents before children. */
export function clusterPaths(nodes: ClusterNode[]): string[] {
  return nodes.flatMap((n) => [n.path, ...clusterPaths(n.children)]);
}
