import { z } from 'zod';
import { AgentUpdateHealth } from './agent-release.js';
import { ValidationError, describeZodError } from './errors.js';
import { parseBoundedJson } from './json-bounds.js';
import { StartChildCommand, TerminateChildCommand } from './supervisor-spec.js';

/**
 * The schema of every message on Flotilla's device topics (see shared/topics.ts for where each goes).
 * Receivers parse with `decode`, which never throws anything but a ValidationError saying what is wrong.
 */

const timestamp = z.number().finite().nonnegative();
/** Facts a device reports about itself (versions, names): short, so a hostile one cannot bloat what is stored. */
const fact = z.string().min(1).max(64);
/** Children and installed steps per report: far above any real tree, low enough to bound a report. */
const MAX_LISTED = 1_000;

/** `flotilla/d/<id>/status`, retained. The agent's last will publishes `{online:false}`. */
export const StatusMessage = z.object({
  online: z.boolean(),
  ts: timestamp,
});
export type StatusMessage = z.infer<typeof StatusMessage>;

export const ChildState = z.enum(['starting', 'running', 'restarting', 'stopped']);
export type ChildState = z.infer<typeof ChildState>;

/** Per-child entry of a supervision tree in health: `path` is the child ids from the root, joined by `/`. */
export const ChildHealth = z.object({
  path: z.string().min(1).max(1_024),
  kind: z.enum(['worker', 'supervisor']),
  state: ChildState,
  restarts: z.number().int().nonnegative(),
  step: z.string().max(256).optional(),
  sha256: z.string().max(64).optional(),
  messagesIn: z.number().int().nonnegative().optional(),
  messagesOut: z.number().int().nonnegative().optional(),
  dropped: z.number().int().nonnegative().optional(),
});
export type ChildHealth = z.infer<typeof ChildHealth>;

export const InstalledStep = z.object({
  ref: z.string().min(1).max(256),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});
export type InstalledStep = z.infer<typeof InstalledStep>;

/** `flotilla/d/<id>/health`: periodic (every `intervalS`) and on every state change. */
export const HealthMessage = z.object({
  ts: timestamp,
  seq: z.number().int().nonnegative(),
  intervalS: z.number().positive(),
  agentVersion: fact,
  target: fact,
  arch: fact,
  platform: fact,
  nodeVersion: fact,
  uptimeS: z.number().nonnegative(),
  memory: z.object({ rss: z.number().nonnegative(), heapUsed: z.number().nonnegative(), heapTotal: z.number().nonnegative() }),
  load: z.tuple([z.number(), z.number(), z.number()]),
  diskFreeBytes: z.number().nonnegative().nullable(),
  invalidMessages: z.number().int().nonnegative(),
  children: z.array(ChildHealth).max(MAX_LISTED).default([]),
  steps: z.array(InstalledStep).max(MAX_LISTED).default([]),
  /** Messages per second in and out of all steps since the previous report. */
  rates: z.object({ in: z.number().nonnegative(), out: z.number().nonnegative() }).default({ in: 0, out: 0 }),
  restartsTotal: z.number().int().nonnegative().default(0),
  /** The agent's on-disk spool of QoS 1 messages (docs/protocol.md, "Delivery guarantees"). */
  spool: z.object({ queued: z.number().int().nonnegative(), bytes: z.number().int().nonnegative(), dropped: z.number().int().nonnegative() }).optional(),
  /** The desired-state revision the agent runs (absent before its first, and from older agents). */
  revision: z.number().int().nonnegative().optional(),
  /** The last revision the agent rolled back by itself (docs/rollouts.md); in every report, so it is never lost. */
  rolledBack: z.number().int().nonnegative().optional(),
  /** The last over-the-air agent update this device worked on, and its restarts for updates (docs/flashing.md). */
  agentUpdate: AgentUpdateHealth.optional(),
  /** Warn/error lines the agent did not forward since it started (over a step's rate limit, or while offline). */
  logsDropped: z.number().int().nonnegative().default(0),
  /** Steps it runs whose module is signed by a key revoked since (shared/revocations.ts): kept running, reported. */
  revokedSteps: z.array(z.string().max(256)).max(MAX_LISTED).optional(),
});
export type HealthMessage = z.infer<typeof HealthMessage>;

/** `flotilla/d/<id>/events`: one agent or supervisor event; `type` names it, `data` carries its fields. */
export const EventMessage = z.object({
  ts: timestamp,
  seq: z.number().int().nonnegative(),
  type: z.string().min(1).max(64),
  data: z.record(z.string(), z.unknown()).default({}),
});
export type EventMessage = z.infer<typeof EventMessage>;

const commandId = z.string().min(1).max(128);

/**
 * What a command says, without its id: the HTTP API takes these, the coordinator assigns the id.
 * Later issues add command types here (one schema, both sides).
 */
export const CommandBody = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ping') }),
  /** simple_one_for_one: start a child from the supervisor's template (docs/supervision.md). */
  // The command envelope adds `id`, so these take the (strict) command schemas' fields in a non-strict object.
  z.object(StartChildCommand.shape),
  z.object(TerminateChildCommand.shape),
]);
export type CommandBody = z.infer<typeof CommandBody>;

/** `flotilla/d/<id>/cmd`: coordinator → device. The device answers every command it accepts on its `ack` topic. */
export const Command = z.intersection(CommandBody, z.object({ id: commandId }));
export type Command = z.infer<typeof Command>;
export type CommandType = Command['type'];

/** `flotilla/d/<id>/ack`: device → coordinator, one per command. */
export const AckMessage = z.object({
  id: commandId,
  ok: z.boolean(),
  ts: timestamp,
  error: z.string().optional(),
  result: z.unknown().optional(),
});
export type AckMessage = z.infer<typeof AckMessage>;

/** Parse a JSON payload against a schema; a ValidationError message names the problem. */
export function decode<T extends z.ZodType>(schema: T, payload: Uint8Array | string, what: string): z.infer<T> {
  // Size, depth and lengths first (shared/json-bounds.ts): a schema, a ring buffer and JSON.stringify come later.
  const json = parseBoundedJson(payload, what);
  const result = schema.safeParse(json);
  if (!result.success) throw new ValidationError(`${what}: ${describeZodError(result.error)}`);
  return result.data;
}

export function encode(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}
