import { z } from 'zod';

/**
 * Fleet logs (docs/protocol.md "Logs", docs/api.md "Logs"): the warn and error lines of an agent and of its steps,
 * sent on `flotilla/d/<id>/logs`, kept in a bounded ring per device by its coordinator, read through the API.
 */

/** A forwarded line is cut to this many characters (the agent's own log keeps the whole line). */
export const LOG_MESSAGE_MAX_CHARS = 1024;
/** Longest step path in a log line (ids are ≤ 64 characters; trees are shallow). */
const STEP_PATH_MAX_CHARS = 512;

/** Only these levels leave the device; debug and info stay in the agent's own log. */
export const ForwardedLevel = z.enum(['warn', 'error']);
export type ForwardedLevel = z.infer<typeof ForwardedLevel>;

/** `flotilla/d/<id>/logs`: one line. `step` is the child's path (`root/avg`); absent for the agent's own lines. */
export const LogLine = z.object({
  ts: z.number().finite().nonnegative(),
  level: ForwardedLevel,
  step: z.string().min(1).max(STEP_PATH_MAX_CHARS).optional(),
  message: z.string().max(LOG_MESSAGE_MAX_CHARS),
});
export type LogLine = z.infer<typeof LogLine>;

/** Lines kept per device by its coordinator (newest kept; memory only, like health history). */
export const LOG_RING_LINES = 500;

/** `GET /api/v1/devices/:id/logs`: matching lines oldest first, and what was dropped on the way. */
export const DeviceLogs = z.object({
  id: z.string(),
  lines: z.array(LogLine).max(LOG_RING_LINES),
  /** Lines the device's coordinator refused over its per-device rate limit. */
  droppedAtCoordinator: z.number().int().nonnegative(),
  /** Lines the agent did not send (over a step's rate limit or while offline), from its last health report. */
  droppedAtAgent: z.number().int().nonnegative(),
});
export type DeviceLogs = z.infer<typeof DeviceLogs>;

/** `?step=&level=&since=&limit=` of the logs endpoint (and of `flotilla logs`). */
export const LogQuery = z.object({
  /** A step path, or a prefix of one ending at a `/` (`root/pipeline` matches `root/pipeline/avg`). */
  step: z.string().min(1).max(STEP_PATH_MAX_CHARS).optional(),
  /** The lowest level shown: `warn` (default) shows warn and error lines. */
  level: ForwardedLevel.default('warn'),
  /** Only lines with `ts` after this (ms since the epoch). */
  since: z.coerce.number().finite().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(LOG_RING_LINES).default(LOG_RING_LINES),
});
export type LogQuery = z.infer<typeof LogQuery>;
