import { z } from 'zod';
import { RolloutStatus } from './rollout.js';
import { DeviceSummary } from './api.js';
import { LogLine } from './logs.js';
import { EventMessage } from './messages.js';

/**
 * Bodies of the dashboard's live channel (`GET /api/v1/stream`, Server-Sent Events) and of the health-history
 * endpoint (docs/api.md). The SSE `event:` field names the message; `data:` is one JSON value of these schemas.
 */

/** Rates over the last heartbeat period, as seen by this coordinator. */
export const StreamRates = z.object({
  /** Health, status and event messages received from devices, per second. */
  deviceMessagesPerS: z.number().nonnegative(),
  /** Sum over devices of their steps' message rates (from health `rates`). */
  stepsInPerS: z.number().nonnegative(),
  stepsOutPerS: z.number().nonnegative(),
});
export type StreamRates = z.infer<typeof StreamRates>;

export const StreamHello = z.object({ cluster: z.string(), serverTime: z.number(), heartbeatMs: z.number().int().positive() });
export type StreamHello = z.infer<typeof StreamHello>;

/**
 * Devices whose summary changed (online/offline/health), coalesced: at most one entry per device per batch;
 * `removed`: ids of devices removed from the registry since the last batch.
 */
export const StreamDevices = z.object({ devices: z.array(DeviceSummary), removed: z.array(z.string()).default([]) });
export type StreamDevices = z.infer<typeof StreamDevices>;

/** Device events (supervisor and agent events) in arrival order. */
export const StreamEvents = z.object({ events: z.array(z.object({ id: z.string(), event: EventMessage })) });
export type StreamEvents = z.infer<typeof StreamEvents>;

/** The cluster tree (`GET /api/v1/clusters`) changed: a roll-up, a bridge state or a new cluster. Fetch it again. */
export const StreamClusters = z.object({ revision: z.number().int().nonnegative() });
export type StreamClusters = z.infer<typeof StreamClusters>;

/** `event: rollout`: the latest status of each rollout that changed since the previous batch (docs/rollouts.md). */
export const StreamRollouts = z.object({ rollouts: z.array(RolloutStatus) });
export type StreamRollouts = z.infer<typeof StreamRollouts>;

/** Log lines of the one device this client asked for (`GET /api/v1/stream?logs=ID`), as its coordinator keeps them. */
export const StreamLogs = z.object({ id: z.string(), lines: z.array(LogLine) });
export type StreamLogs = z.infer<typeof StreamLogs>;

export const StreamHeartbeat = z.object({ serverTime: z.number(), clients: z.number().int().nonnegative(), rates: StreamRates });
export type StreamHeartbeat = z.infer<typeof StreamHeartbeat>;

/** Upper bound on health samples kept per device (1 hour at a 1 s report interval); also bounds a federation reply. */
export const HISTORY_MAX_SAMPLES = 3600;
const HistoryColumn = z.array(z.number()).max(HISTORY_MAX_SAMPLES);

/** `GET /api/v1/devices/:id/history`: columns of equal length, oldest first (uPlot's data layout). */
export const DeviceHistory = z.object({
  id: z.string(),
  intervalS: z.number().positive().nullable(),
  capacity: z.number().int().nonnegative().max(HISTORY_MAX_SAMPLES),
  ts: HistoryColumn,
  rssBytes: HistoryColumn,
  heapUsedBytes: HistoryColumn,
  load1: HistoryColumn,
  stepsInPerS: HistoryColumn,
  stepsOutPerS: HistoryColumn,
});
export type DeviceHistory = z.infer<typeof DeviceHistory>;
