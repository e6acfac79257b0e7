import type { DeviceSummary, HealthState, Rollup } from '../../shared/api.js';

/** Worst first wins: a cluster is as healthy as its sickest device. */
const SEVERITY: Record<HealthState, number> = { ok: 0, unknown: 1, degraded: 2, offline: 3 };

export const EMPTY_ROLLUP: Rollup = {
  devices: { total: 0, online: 0, offline: 0, degraded: 0, unknown: 0 },
  restartsTotal: 0,
  invalidMessages: 0,
  worst: 'ok',
};

export function rollupDevices(devices: Iterable<DeviceSummary>): Rollup {
  const r = structuredClone(EMPTY_ROLLUP);
  for (const d of devices) {
    r.devices.total++;
    if (d.online) r.devices.online++;
    if (d.state === 'offline') r.devices.offline++;
    if (d.state === 'degraded') r.devices.degraded++;
    if (d.state === 'unknown') r.devices.unknown++;
    r.restartsTotal += d.restartsTotal;
    r.invalidMessages += d.invalidMessages;
    if (SEVERITY[d.state] > SEVERITY[r.worst]) r.worst = d.state;
  }
  return r;
}

export function combine(a: Rollup, b: Rollup): Rollup {
  const n = (k: keyof Rollup['devices']) => a.devices[k] + b.devices[k];
  return {
    devices: { total: n('total'), online: n('online'), offline: n('offline'), degraded: n('degraded'), unknown: n('unknown') },
    restartsTotal: a.restartsTotal + b.restartsTotal,
    invalidMessages: a.invalidMessages + b.invalidMessages,
    worst: SEVERITY[b.worst] > SEVERITY[a.worst] ? b.worst : a.worst,
  };
}

/**
 * The fields of a device summary whose change is worth telling the parent right away. Uptime, memory, load and
 * last-seen change on every report; sending them up would make the root's load grow with devices, not clusters.
 */
export function significantKey(d: DeviceSummary): string {
  return JSON.stringify([d.online, d.state, d.restartsTotal, d.children, d.invalidMessages, d.arch, d.platform, d.target, d.agentVersion]);
}
