import { z } from 'zod';
import { ChildHealth, EventMessage, HealthMessage, InstalledStep } from './messages.js';

/**
 * Bodies of the coordinator's HTTP API (docs/api.md), shared by the server, `flotilla devices` and the dashboard.
 * Clients validate what they receive, too: a coordinator of another version fails loudly, not subtly.
 */

export const HealthState = z.enum(['ok', 'degraded', 'offline', 'unknown']);
export type HealthState = z.infer<typeof HealthState>;

export const DeviceSummary = z.object({
  id: z.string(),
  cluster: z.string(),
  online: z.boolean(),
  state: HealthState,
  lastSeen: z.number().nullable(),
  arch: z.string().nullable(),
  platform: z.string().nullable(),
  target: z.string().nullable(),
  agentVersion: z.string().nullable(),
  uptimeS: z.number().nullable(),
  rssBytes: z.number().nullable(),
  load1: z.number().nullable(),
  restartsTotal: z.number(),
  children: z.object({ running: z.number(), total: z.number() }),
  invalidMessages: z.number(),
  /** Refs of the installed steps (the dashboard filters by step). */
  stepRefs: z.array(z.string()),
});
export type DeviceSummary = z.infer<typeof DeviceSummary>;

export const DeviceList = z.object({ devices: z.array(DeviceSummary) });
export type DeviceList = z.infer<typeof DeviceList>;

export const DeviceDetail = DeviceSummary.extend({
  health: HealthMessage.nullable(),
  events: z.array(EventMessage),
  children: z.object({ running: z.number(), total: z.number() }),
  tree: z.array(ChildHealth),
  steps: z.array(InstalledStep),
});
export type DeviceDetail = z.infer<typeof DeviceDetail>;

export const ClusterSummary = z.object({
  cluster: z.string(),
  coordinatorVersion: z.string(),
  uptimeS: z.number(),
  devices: z.object({ total: z.number(), online: z.number(), offline: z.number(), degraded: z.number() }),
  byArch: z.record(z.string(), z.number()),
  restartsTotal: z.number(),
  invalidMessages: z.number(),
  deniedRequests: z.number(),
});
export type ClusterSummary = z.infer<typeof ClusterSummary>;

export const EnrollRequest = z.object({ id: z.string() });
export const EnrollResponse = z.object({ id: z.string(), token: z.string() });
export type EnrollResponse = z.infer<typeof EnrollResponse>;

export const ApiError = z.object({ error: z.object({ status: z.number(), message: z.string() }) });
export type ApiError = z.infer<typeof ApiError>;
