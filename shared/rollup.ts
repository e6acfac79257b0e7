import type { DeviceCounts, DeviceSummary, HealthState, Rollup } from './api.js';

/**
 * The one roll-up of a set of devices (docs/api.md, "Device states"), used by `GET /api/v1/cluster`,
 * `GET /api/v1/clusters`, the summaries sent up the tree and the dashboard, so they always agree. Each device is
 * counted in `total` and in exactly one of `online`, `offline`, `unknown`:
 * - `online`: connected now (its last status said online and it has not missed two health reports);
 * - `offline`: heard from at some time, not online now;
 * - `unknown` (shown as "never seen"): enrolled but never heard from;
 * - `degraded` counts the online devices with a worker not running (a subset of `online`, state `degraded`).
 */
export function rollupDevices(devices: Iterable<DeviceSummary>): Rollup {
  const r = emptyRollup();
  for (const d of devices) {
    countDevice(r.devices, d);
    r.restartsTotal += d.restartsTotal;
    r.invalidMessages += d.invalidMessages;
    r.worst = worse(r.worst, d.state);
  }
  return r;
}

/** Worst first wins: a cluster is as healthy as its sickest device. */
const SEVERITY: Record<HealthState, number> = { ok: 0, unknown: 1, degraded: 2, offline: 3 };

function worse(a: HealthState, b: HealthState): HealthState {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

function countDevice(c: DeviceCounts, d: DeviceSummary): void {
  c.total++;
  if (d.state === 'unknown') c.unknown++;
  else if (d.online) c.online++;
  else c.offline++;
  if (d.state === 'degraded') c.degraded++;
}

export function emptyRollup(): Rollup {
  return { devices: { total: 0, online: 0, offline: 0, degraded: 0, unknown: 0 }, restartsTotal: 0, invalidMessages: 0, worst: 'ok' };
}

export const EMPTY_ROLLUP: Readonly<Rollup> = Object.freeze(emptyRollup());

/** Two disjoint sets of devices, rolled up together (a cluster's own devices plus its children's subtrees). */
export function combine(a: Rollup, b: Rollup): Rollup {
  const n = (k: keyof DeviceCounts) => a.devices[k] + b.devices[k];
  return {
    devices: { total: n('total'), online: n('online'), offline: n('offline'), degraded: n('degraded'), unknown: n('unknown') },
    restartsTotal: a.restartsTotal + b.restartsTotal,
    invalidMessages: a.invalidMessages + b.invalidMessages,
    worst: worse(a.worst, b.worst),
  };
}

/** Device counts per value of `key` (null → "unknown"), sorted by that value: the dashboard's group tables. */
export function countBy(devices: Iterable<DeviceSummary>, key: (d: DeviceSummary) => string | null): [string, DeviceCounts][] {
  const groups = new Map<string, DeviceSummary[]>();
  for (const d of devices) {
    const k = key(d) ?? 'unknown';
    const g = groups.get(k);
    if (g) g.push(d);
    else groups.set(k, [d]);
  }
  return [...groups].map(([k, ds]): [string, DeviceCounts] => [k, rollupDevices(ds).devices]).sort(([a], [b]) => a.localeCompare(b));
}
