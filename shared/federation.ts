import { z } from 'zod';
import { DeviceLogs, LogQuery } from './logs.js';
import { DeviceDetail, DeviceSummary, Rollup } from './api.js';
import { DesiredMessage, ModuleRef } from './desired.js';
import { AckMessage, CommandBody, EventMessage } from './messages.js';
import { DeviceHistory } from './stream.js';
import { LabelPatchRecord } from './labels.js';
import { RolloutId, ShareOpen, ShareOrder } from './rollout.js';

/**
 * Messages between coordinators (docs/protocol.md, "Federation"). Topics are in shared/fleet-topics.ts.
 * Every message crossing a bridge is parsed with `decode` by the coordinator that consumes it.
 */

/** `flotilla/up/<path>/bridge/state`, retained: the child's bridge publishes `up` on connect; `down` is its last will. */
export const BridgeStateMessage = z.object({ state: z.enum(['up', 'down']), ts: z.number().nonnegative() });
export type BridgeStateMessage = z.infer<typeof BridgeStateMessage>;

/**
 * `flotilla/up/<path>/summary`, retained, at most once per summary interval and only when it changed:
 * `own` covers the cluster's own devices, `subtree` adds every descendant cluster's summary.
 */
export const SummaryMessage = z.object({
  ts: z.number().nonnegative(),
  cluster: z.string().min(1),
  coordinatorVersion: z.string().min(1),
  own: Rollup,
  subtree: Rollup,
});
export type SummaryMessage = z.infer<typeof SummaryMessage>;

/**
 * `flotilla/up/<path>/alive`, retained, at most once per summary interval and only when it changed: `heardAt` is the
 * oldest last-seen time (the cluster's clock) among its own online devices, so every device it lists as online was
 * heard at or after it (null: none online). One message per cluster keeps the parent's view of its devices' last-seen
 * honest without sending anything per device.
 */
export const AliveMessage = z.object({ ts: z.number().nonnegative(), heardAt: z.number().nonnegative().nullable() });
export type AliveMessage = z.infer<typeof AliveMessage>;

/** `flotilla/up/<path>/d/<id>/detail`, retained: the device's summary, sent when a significant field changes. */
export const DetailMessage = DeviceSummary;
export type DetailMessage = DeviceSummary;

/** `flotilla/up/<path>/d/<id>/events`: every device event, as the agent sent it. */
export const UpEventMessage = EventMessage;

/** Which devices of the receiving cluster a request is for. */
export const RequestScope = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('device'), device: z.string().min(1) }),
  /** The cluster's own devices. */
  z.object({ scope: z.literal('cluster') }),
  /** The cluster's own devices and every descendant cluster's. */
  z.object({ scope: z.literal('subtree') }),
]);
export type RequestScope = z.infer<typeof RequestScope>;

export const RequestOp = z.discriminatedUnion('type', [
  z.object({ type: z.literal('command'), command: CommandBody }),
  z.object({ type: z.literal('detail') }),
  /** A desired spec, already resolved to module digests by the coordinator that accepted it (see shared/desired.ts). */
  z.object({ type: z.literal('desired'), spec: z.unknown(), modules: z.record(z.string(), ModuleRef) }),
  /** The desired state the device's own coordinator stores for it (`GET /api/v1/devices/:id/desired`). */
  z.object({ type: z.literal('get_desired') }),
  /** The device's health history ring, kept by its own coordinator (`GET /api/v1/devices/:id/history`). */
  z.object({ type: z.literal('history') }),
  /** The device's recent log lines, kept by its own coordinator (`GET /api/v1/devices/:id/logs`). */
  z.object({ type: z.literal('logs'), query: LogQuery }),
  /** Change the device's labels at its own coordinator (`PATCH /api/v1/devices/:id` at a coordinator above). */
  z.object({ type: z.literal('labels'), patch: LabelPatchRecord }),
  /** Open this cluster's share of a rollout owned above (docs/rollouts.md, "Across clusters"). */
  ShareOpen.extend({ type: z.literal('rollout_open') }),
  /** The owner's current order for this cluster's share. */
  z.object({ type: z.literal('rollout_order'), rollout: RolloutId, order: ShareOrder }),
]);
export type RequestOp = z.infer<typeof RequestOp>;

/** `flotilla/down/<path>/req`: a request routed down the tree; `budgetMs` is how long the requester still waits. */
export const RequestMessage = z.object({
  id: z.string().min(1).max(128),
  budgetMs: z.number().int().positive(),
  target: RequestScope,
  op: RequestOp,
});
export type RequestMessage = z.infer<typeof RequestMessage>;

/**
 * `flotilla/up/<path>/reply`: one per cluster that handled a request. Device ids are the cluster's own; the
 * requester qualifies them with the path the reply came from. `forwardedTo` names the child clusters that will
 * reply too; `unreachable` those whose bridge was down.
 */
export const ReplyMessage = z.object({
  id: z.string().min(1).max(128),
  acks: z.record(z.string(), AckMessage).default({}),
  errors: z.record(z.string(), z.string()).default({}),
  forwardedTo: z.array(z.string()).default([]),
  unreachable: z.array(z.string()).default([]),
  detail: DeviceDetail.optional(),
  desired: DesiredMessage.optional(),
  /** At most HISTORY_MAX_SAMPLES per column (~200 KB of JSON): MQTT allows 256 MB, aedes and mqtt.js set no lower cap. */
  history: DeviceHistory.optional(),
  /** At most LOG_RING_LINES lines of ≤ 1 KB. */
  logs: DeviceLogs.optional(),
});
export type ReplyMessage = z.infer<typeof ReplyMessage>;
