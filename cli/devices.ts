import type { DeviceSummary } from '../shared/api.js';
import { opt } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { matches } from '../shared/selector.js';
import { SelectorSchema } from '../shared/selector-schema.js';
import { ApiClient } from './api-client.js';
import { formatLabels } from './label.js';
import { apiOptions } from './api-options.js';

export const devicesCommand = defineCommand(
  {
    command: 'devices',
    summary: 'list the devices a coordinator knows, with their state',
    options: {
      ...apiOptions,
      select: { schema: SelectorSchema, description: "only the devices a selector matches (site=paris,arch in (arm64,arm),cluster=root/eu/**)" },
      revoked: { schema: opt.bool, flag: true, description: 'only the devices running a step signed by a revoked key' },
      json: { schema: opt.bool, flag: true, description: 'print the API response as JSON' },
    },
  },
  async (v) => {
    const { select } = v;
    const all = (await new ApiClient(v.api, v['api-token']).devices()).devices;
    const devices = all.filter((d) => (!select || matches(select, d)) && (!v.revoked || revokedOf(d)));
    console.log(v.json ? JSON.stringify(devices, null, 2) : formatDevices(devices, Date.now()));
    return 0;
  },
);

const COLUMNS: [string, (d: DeviceSummary, now: number) => string][] = [
  ['ID', (d) => d.id],
  ['CLUSTER', (d) => d.cluster],
  ['STATE', (d) => d.state],
  ['ARCH', (d) => d.arch ?? '-'],
  ['TARGET', (d) => d.target ?? '-'],
  ['VERSION', (d) => d.agentVersion ?? '-'],
  ['UPTIME', (d) => (d.uptimeS === null ? '-' : duration(d.uptimeS))],
  ['LAST SEEN', (d, now) => (d.lastSeen === null ? 'never' : `${duration(Math.max(0, Math.round((now - d.lastSeen) / 1000)))} ago`)],
  ['RSS', (d) => (d.rssBytes === null ? '-' : `${(d.rssBytes / 1048576).toFixed(1)}M`)],
  ['STEPS', (d) => `${d.children.running}/${d.children.total}`],
  ['RESTARTS', (d) => String(d.restartsTotal)],
  ['LABELS', (d) => formatLabels(d.labels) || '-'],
];

/** Why a degraded device is degraded, in its step's own words when it logged any. */
const failureOf = (d: DeviceSummary) => (d.state === 'degraded' && d.lastFailure ? d.lastFailure : '');

/** Steps it runs signed by a revoked key (docs/flashing.md, "Revoking a key"). */
const revokedOf = (d: DeviceSummary) => d.revokedSteps?.join(',') ?? '';

/** A plain-text table, columns padded to their widest cell; REVOKED KEY and LAST FAILURE columns when some device has one. */
export function formatDevices(devices: DeviceSummary[], now: number): string {
  if (devices.length === 0) return 'no devices';
  const columns: typeof COLUMNS = [...COLUMNS];
  if (devices.some(revokedOf)) columns.push(['REVOKED KEY', revokedOf]);
  if (devices.some(failureOf)) columns.push(['LAST FAILURE', failureOf]);
  const rows = [columns.map(([h]) => h), ...devices.map((d) => columns.map(([, f]) => f(d, now)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function duration(seconds: number): string {
  const s = Math.floor(seconds); // uptimes of remote devices are extrapolated to fractions of a second
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
