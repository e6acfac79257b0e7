import { z } from 'zod';
import { LabelPatch, LabelsSchema } from './labels.js';
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
  /** Set at the device's own coordinator and carried up (shared/labels.ts); absent from older coordinators. */
  labels: LabelsSchema.prefault({}),
  /** The most recent abnormal exit or failed apply, `root/avg: start_failed:init returned 2: <line>` (lastFailure). */
  lastFailure: z.string().nullable().default(null),
  /** Steps it runs whose module is signed by a revoked key (docs/flashing.md, "Revoking a key"); absent when none. */
  revokedSteps: z.array(z.string()).optional(),
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

/** Device counts by state (shared/rollup.ts, docs/api.md "Device states"): total = online + offline + unknown; degraded ⊆ online. */
export const DeviceCounts = z.object({
  total: z.number().int().nonnegative(),
  online: z.number().int().nonnegative(),
  offline: z.number().int().nonnegative(),
  degraded: z.number().int().nonnegative(),
  unknown: z.number().int().nonnegative(),
});
export type DeviceCounts = z.infer<typeof DeviceCounts>;

export const ClusterSummary = z.object({
  cluster: z.string(),
  coordinatorVersion: z.string(),
  uptimeS: z.number(),
  devices: DeviceCounts,
  byArch: z.record(z.string(), z.number()),
  restartsTotal: z.number(),
  invalidMessages: z.number(),
  deniedRequests: z.number(),
});
export type ClusterSummary = z.infer<typeof ClusterSummary>;

export const EnrollRequest = z.object({ id: z.string(), labels: LabelsSchema.optional() });
export type EnrollRequest = z.input<typeof EnrollRequest>;

/** `PATCH /api/v1/devices/:id`: labels as a JSON merge patch (a value sets, null removes). */
export const DevicePatch = z.strictObject({ labels: LabelPatch });
export type DevicePatch = z.input<typeof DevicePatch>;
export const DevicePatchResponse = z.object({ id: z.string(), labels: LabelsSchema });
export const EnrollResponse = z.object({ id: z.string(), token: z.string() });
export type EnrollResponse = z.infer<typeof EnrollResponse>;

export const ApiError = z.object({ error: z.object({ status: z.number(), message: z.string() }) });
export type ApiError = z.infer<typeof ApiError>;

// --- Federation (docs/api.md, "Federation") ---


/** Roll-up of a set of devices: counts by state, restart and invalid-message totals, the worst state present. */
export const Rollup = z.object({
  devices: DeviceCounts,
  restartsTotal: z.number().int().nonnegative(),
  invalidMessages: z.number().int().nonnegative(),
  worst: HealthState,
});
export type Rollup = z.infer<typeof Rollup>;

/**
 * One node of `GET /api/v1/clusters`: `path` is the cluster path from the answering coordinator (its own name
 * first), `bridge` the state of the node's link to its parent (null for the answering coordinator itself),
 * `bridgeSince` when the answering coordinator learnt of that bridge state, `own` its own devices, `subtree` its own
 * plus all descendants', `updatedAt` when its last summary arrived.
 */
export interface ClusterNode {
  name: string;
  path: string;
  bridge: 'up' | 'down' | null;
  bridgeSince: number | null;
  own: Rollup;
  subtree: Rollup;
  updatedAt: number | null;
  children: ClusterNode[];
}
export const ClusterNode: z.ZodType<ClusterNode> = z.lazy(() =>
  z.object({
    name: z.string(),
    path: z.string(),
    bridge: z.enum(['up', 'down']).nullable(),
    bridgeSince: z.number().nullable(),
    own: Rollup,
    subtree: Rollup,
    updatedAt: z.number().nullable(),
    children: z.array(ClusterNode),
  }),
);
export const ClusterTree = z.object({ root: ClusterNode });
export type ClusterTree = z.infer<typeof ClusterTree>;

export const ClusterEnrollRequest = z.object({ name: z.string() });
export const ClusterEnrollResponse = z.object({ name: z.string(), token: z.string() });
export type ClusterEnrollResponse = z.infer<typeof ClusterEnrollResponse>;

/** `POST /api/v1/commands`: one command to a device, a cluster's own devices, a subtree, or everything. */
export const FanoutTarget = z.union([
  z.object({ device: z.string().min(1) }),
  z.object({ cluster: z.string().min(1) }),
  z.object({ subtree: z.string().min(1) }),
  z.object({ all: z.literal(true) }),
]);
export type FanoutTarget = z.infer<typeof FanoutTarget>;

/** Per-device outcome of a fan-out, keyed by qualified device id; `unreachable` lists cluster paths that did not answer. */
export const FanoutResult = z.object({
  acks: z.record(z.string(), z.object({ id: z.string(), ok: z.boolean(), ts: z.number(), error: z.string().optional(), result: z.unknown().optional() })),
  errors: z.record(z.string(), z.string()),
  unreachable: z.array(z.string()),
});
export type FanoutResult = z.infer<typeof FanoutResult>;
