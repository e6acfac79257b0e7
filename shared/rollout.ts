import { z } from 'zod';
import { Duration } from './duration.js';
import { SelectorSchema } from './selector-schema.js';
import { ModuleRef } from './desired.js';
import { StepRef } from './supervisor-spec.js';
import { WindowSchema } from './window.js';
import { AgentVersion } from './agent-release.js';

/**
 * Staged rollouts (docs/rollouts.md): what the API and the CLI exchange, and what coordinators pass each other.
 * The request carries the operator's own words (durations as `90s`, counts as `5` or `10%`); `RolloutRequest`
 * parses them once into a `RolloutDefinition` the planner trusts.
 */

export const RolloutState = z.enum(['running', 'paused', 'succeeded', 'halted', 'aborted', 'rolled_back']);
export type RolloutState = z.infer<typeof RolloutState>;

export const TERMINAL_STATES: readonly RolloutState[] = ['succeeded', 'halted', 'aborted', 'rolled_back'];

export const DeviceRolloutState = z.enum(['pending', 'updating', 'healthy', 'failed', 'rolled_back', 'skipped']);
export type DeviceRolloutState = z.infer<typeof DeviceRolloutState>;

export const WaveState = z.enum(['waiting', 'running', 'passed', 'failed']);
export type WaveState = z.infer<typeof WaveState>;

/** `5` devices or `10%` of them. */
export type CountOrPercent = { count: number } | { percent: number };

export const CountOrPercentSchema = z.union([z.number(), z.string()]).transform((raw, ctx): CountOrPercent => {
  const text = String(raw);
  const m = /^(\d{1,7})(%?)$/.exec(text);
  if (!m || (m[2] && Number(m[1]) > 100)) {
    ctx.addIssue({ code: 'custom', message: `expected a number of devices (5) or a percentage (10%), got ${JSON.stringify(text.slice(0, 20))}` });
    return z.NEVER;
  }
  return m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
});

/** Cumulative percentages of the selected devices, increasing, the last 100: `10%,50%,100%`. */
export const WavesSchema = z
  .union([z.string(), z.array(z.union([z.string(), z.number()]))])
  .transform((raw, ctx) => {
    const parts = (typeof raw === 'string' ? raw.split(',') : raw).map((p) => String(p).trim().replace(/%$/, ''));
    const waves = parts.map(Number);
    const bad = parts.findIndex((p, i) => !/^\d{1,3}$/.test(p) || waves[i] < 1 || waves[i] > 100 || (i > 0 && waves[i] <= waves[i - 1]));
    if (bad !== -1 || waves.length === 0 || waves.length > 20 || waves.at(-1) !== 100) {
      ctx.addIssue({ code: 'custom', message: 'expected 1-20 increasing percentages ending at 100, e.g. 10%,50%,100%' + (bad !== -1 ? ` (wave ${bad + 1}: ${JSON.stringify(parts[bad])})` : '') });
      return z.NEVER;
    }
    return waves;
  });

/** A whole spec, a step bump, or an agent release (each device takes the release of its own target). */
export const RolloutChange = z.union([z.strictObject({ spec: z.unknown() }), z.strictObject({ step: StepRef }), z.strictObject({ agent: AgentVersion })]);

/** `POST /api/v1/rollouts`. */
export const RolloutRequest = z.strictObject({
  selector: SelectorSchema,
  change: RolloutChange,
  canary: CountOrPercentSchema.prefault(1),
  waves: WavesSchema.prefault('10%,50%,100%'),
  soak: Duration.prefault('60s'),
  maxFailures: CountOrPercentSchema.prefault(0),
  maxRestarts: z.number().int().nonnegative().max(1000).default(0),
  windows: z.array(WindowSchema).max(8).default([]),
  offlineTimeout: Duration.prefault('1h'),
  /** How long a device may take to run the new revision (after its soak) before it counts as failed. */
  applyTimeout: Duration.prefault('2m'),
  /** At a failed gate, roll back the failed devices only, or every device of that wave. */
  rollbackScope: z.enum(['failed', 'wave']).default('failed'),
});
export type RolloutRequest = z.input<typeof RolloutRequest>;
export type RolloutDefinition = z.output<typeof RolloutRequest>;

/** The counts of one wave's devices at one cluster, or summed over clusters. */
export const WaveCounts = z.object({
  assigned: z.number().int().nonnegative(),
  pending: z.number().int().nonnegative(),
  updating: z.number().int().nonnegative(),
  healthy: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  rolled_back: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
});
export type WaveCounts = z.infer<typeof WaveCounts>;

export const RolloutDevice = z.object({
  id: z.string(),
  state: DeviceRolloutState,
  /** The wave it belongs to (0 is the canary); absent while it waits for one. */
  wave: z.number().int().nonnegative().optional(),
  revision: z.number().int().nonnegative().optional(),
  reason: z.string().optional(),
});
export type RolloutDevice = z.infer<typeof RolloutDevice>;

/** `GET /api/v1/rollouts/:id` and `flotilla rollout status --json`: the contract of issue 12. */
export const RolloutStatus = z.object({
  id: z.string(),
  state: RolloutState,
  reason: z.string().optional(),
  waves: z.array(z.object({ index: z.number().int().nonnegative(), state: WaveState, devices: z.number().int().nonnegative(), passed: z.number().int().nonnegative(), failed: z.number().int().nonnegative() })),
  devices: z.array(RolloutDevice),
  /** This cluster's share of a rollout owned by a coordinator above: its own devices only, read-only here. */
  share: z.literal(true).optional(),
});
export type RolloutStatus = z.infer<typeof RolloutStatus>;

// --- Between coordinators: the owner of a rollout and each cluster carrying out its share (docs/rollouts.md) ---

/** Return devices to their previous desired state: the failed ones, every one of `wave`, or all of them. */
export const Revert = z.object({ failed: z.boolean(), wave: z.number().int().nonnegative().nullable(), all: z.boolean() });
export type Revert = z.infer<typeof Revert>;

export const NO_REVERT: Revert = { failed: false, wave: null, all: false };

export const ShareOrder = z.object({
  /** The wave being carried out (0: the canary). */
  wave: z.number().int().nonnegative(),
  /** How many of the cluster's selected devices are in the rollout, all waves so far. */
  quota: z.number().int().nonnegative(),
  /** `run`: assign and update devices; `hold`: update none (paused, outside a window); `end`: the rollout is over. */
  mode: z.enum(['run', 'hold', 'end']),
  revert: Revert,
});
export type ShareOrder = z.infer<typeof ShareOrder>;

export const ShareReport = z.object({
  /** The wave of the last order this report reflects. */
  wave: z.number().int().nonnegative(),
  /** Selected devices that can take the change. */
  eligible: z.number().int().nonnegative(),
  /** Index k: the counts of the devices that joined in wave k. */
  waves: z.array(WaveCounts).max(21),
  devices: z.array(RolloutDevice).max(100_000),
});
export type ShareReport = z.infer<typeof ShareReport>;

/** A rollout's id, as the coordinator that owns it made it (`r-<time>-<hex>`); safe as a map key and in messages. */
export const RolloutId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected a rollout id');

/** What a cluster's share core gates each device on (from the request's soak, restarts and timeouts). */
export const ShareGates = z.object({
  soakMs: z.number().int().nonnegative(),
  maxRestarts: z.number().int().nonnegative(),
  offlineTimeoutMs: z.number().int().nonnegative(),
  applyTimeoutMs: z.number().int().nonnegative(),
});
export type ShareGates = z.infer<typeof ShareGates>;

/**
 * The owner opens a cluster's share (request op `rollout_open`): the cluster's own devices the selector chose, the
 * gates, the change, and the modules the change brings, resolved by the owner (a cluster below may not have the step).
 */
export const ShareOpen = z.object({
  rollout: RolloutId,
  gates: ShareGates,
  change: RolloutChange,
  modules: z.record(StepRef, ModuleRef),
  devices: z.array(z.string().min(1).max(128)).max(100_000),
});
export type ShareOpen = z.infer<typeof ShareOpen>;

/**
 * A cluster's report on its share, numbered: the owner keeps the highest `seq` per cluster, so a report that arrives
 * late (a reply overtaken by the uplink) never replaces a newer one. The answer to `rollout_open`/`rollout_order`
 * (in the ack's result) and the message on `flotilla/up/<path>/rollout`.
 */
export const ShareReply = z.object({ seq: z.number().int().nonnegative(), report: ShareReport });
export type ShareReply = z.infer<typeof ShareReply>;

export const ShareReportMessage = ShareReply.extend({ rollout: RolloutId });
export type ShareReportMessage = z.infer<typeof ShareReportMessage>;

export const RolloutList = z.object({ rollouts: z.array(RolloutStatus) });
export type RolloutList = z.infer<typeof RolloutList>;
