import type { CountOrPercent } from '../../shared/rollout.js';

/** How many selected devices a cluster has (the root learns it from the summaries its clusters send up). */
export interface ClusterShare {
  cluster: string;
  selected: number;
}

/**
 * Which part of each wave each cluster carries out. Wave 0 is the canary; `quotas[k]` is the number of the
 * cluster's devices that are in the rollout once wave k has started (cumulative), so a cluster is told one number
 * per wave and picks its devices itself.
 */
export interface WavePlan {
  clusters: { cluster: string; quotas: number[] }[];
  /** Devices new in each wave. */
  sizes: number[];
}

export function countOf(amount: CountOrPercent, total: number): number {
  return 'count' in amount ? Math.min(amount.count, total) : Math.ceil((amount.percent * total) / 100);
}

/**
 * Canary first, by default all in one cluster (the first, in the given order, large enough for it), then the waves
 * as cumulative percentages, filling whole clusters in order, canary cluster first, before touching the next: a
 * bad version reaches one site first, and each wave spreads to as few new sites as it can.
 */
export function planWaves(shares: readonly ClusterShare[], canary: CountOrPercent, waves: readonly number[]): WavePlan {
  const total = shares.reduce((n, s) => n + s.selected, 0);
  const canarySize = total === 0 ? 0 : Math.max(1, countOf(canary, total));
  const home = shares.findIndex((s) => s.selected >= canarySize);
  const ordered = home <= 0 ? [...shares] : [shares[home], ...shares.slice(0, home), ...shares.slice(home + 1)];
  const targets = [canarySize, ...waves.map((p) => Math.max(canarySize, Math.ceil((p * total) / 100)))];
  const clusters = ordered.map((s) => ({ cluster: s.cluster, quotas: [] as number[] }));
  for (const target of targets) {
    let left = target;
    ordered.forEach((s, i) => {
      const take = Math.min(s.selected, left);
      clusters[i].quotas.push(take);
      left -= take;
    });
  }
  const sizes = targets.map((t, k) => t - (k === 0 ? 0 : targets[k - 1]));
  return { clusters, sizes };
}
