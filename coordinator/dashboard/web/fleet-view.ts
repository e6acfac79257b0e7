import type { ClusterNode, DeviceSummary, HealthState } from '../../../shared/api.js';

/** Pure views over device summaries and the cluster tree: filtering, counting, finding. No DOM here. */

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

/** Every cluster path of the tree (`GET /api/v1/clusters`), parents before children. */
export function clusterPaths(node: ClusterNode): string[] {
  return [node.path, ...node.children.flatMap(clusterPaths)];
}

/** The node at `path` (a full path from the root, as in a device's `cluster`), if the tree has it. */
export function findCluster(node: ClusterNode, path: string): ClusterNode | undefined {
  if (node.path === path) return node;
  if (!path.startsWith(`${node.path}/`)) return undefined;
  for (const child of node.children) {
    const found = findCluster(child, path);
    if (found) return found;
  }
  return undefined;
}
