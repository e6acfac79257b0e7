import type { ClusterNode, DeviceCounts, DeviceSummary, HealthState } from '../../../shared/api.js';
import { rollupDevices } from '../../../shared/rollup.js';
import { matches as selects, parseSelector, type Selector } from '../../../shared/selector.js';

/** Pure views over device summaries and the cluster tree: filtering, counting, finding. No DOM here. */

export interface Filter {
  /** Substring of the device id. */
  q: string;
  cluster: string;
  arch: string;
  state: '' | HealthState;
  /** Substring of an installed step's ref. */
  step: string;
  /** A label selector (shared/selector.ts): `site=paris,tier!=lab`. */
  select: string;
}

export const NO_FILTER: Filter = { q: '', cluster: '', arch: '', state: '', step: '', select: '' };

/** The filter's selector parsed, or why it does not parse (the page shows it; nothing matches meanwhile). */
export function selectorOf(f: Filter): { selector?: Selector; error?: string } {
  if (!f.select.trim()) return {};
  try {
    return { selector: parseSelector(f.select) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

export function matches(d: DeviceSummary, f: Filter, selector = selectorOf(f)): boolean {
  if (selector.error || (selector.selector && !selects(selector.selector, { ...d, labels: d.labels ?? {} }))) return false;
  if (f.q && !d.id.toLowerCase().includes(f.q.toLowerCase())) return false;
  // A cluster filter includes the subtree: `eu` matches devices of `eu/site-1`.
  if (f.cluster && d.cluster !== f.cluster && !d.cluster.startsWith(`${f.cluster}/`)) return false;
  if (f.arch && (d.arch ?? 'unknown') !== f.arch) return false;
  if (f.state && d.state !== f.state) return false;
  if (f.step && !d.stepRefs.some((ref) => ref.toLowerCase().includes(f.step.toLowerCase()))) return false;
  return true;
}

/** Device counts of a set of devices: the one roll-up of shared/rollup.ts, so the page agrees with the API. */
export function count(devices: Iterable<DeviceSummary>): DeviceCounts {
  return rollupDevices(devices).devices;
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
