import type { DeviceSummary } from '../../shared/api.js';

/**
 * The fields of a device summary whose change is worth telling the parent right away. Uptime, memory, load and
 * last-seen change on every report; sending them up would make the root's load grow with devices, not clusters.
 */
export function significantKey(d: DeviceSummary): string {
  return JSON.stringify([d.online, d.state, d.restartsTotal, d.children, d.invalidMessages, d.arch, d.platform, d.target, d.agentVersion, d.labels, d.revokedSteps]);
}
