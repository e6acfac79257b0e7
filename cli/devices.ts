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
      json: { schema: opt.bool, flag: true, description: 'print the API response as JSON' },
    },
  },
  async (v) => {
    const { select } = v;
    const all = (await new ApiClient(v.api, v['api-token']).devices()).devices;
    const devices = select ? all.filter((d) => matches(select, d)) : all;
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

/** A plain-text table, columns padded to their widest cell; a LAST FAILURE column when some device has one. */
export function formatDevices(devices: DeviceSummary[], now: number): string {
  if (devices.length === 0) return 'no devices';
  const columns: typeof COLUMNS = devices.some(failureOf) ? [...COLUMNS, ['LAST FAILURE', failureOf]] : COLUMNS;
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
