import { z } from 'zod';
import { ValidationError, describeZodError } from './errors.js';
import { ID_PATTERN } from './ids.js';
import { isValidFilter, isValidTopicName } from './topics.js';

/**
 * The supervisor spec a coordinator sends to an agent (docs/supervision.md). `parseSupervisorSpec` is the only door:
 * it fills OTP's defaults and checks the rules zod cannot see, so the supervisor core trusts what it gets.
 */

const childId = z.string().regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');

export const Strategy = z.enum(['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one']);
export type Strategy = z.infer<typeof Strategy>;

export const RestartType = z.enum(['permanent', 'transient', 'temporary']);
export type RestartType = z.infer<typeof RestartType>;

export const AutoShutdown = z.enum(['never', 'any_significant', 'all_significant']);
export type AutoShutdown = z.infer<typeof AutoShutdown>;

/**
 * The step host (a worker isolate shared by steps, agent/runtime) a worker runs in; on a supervisor, the default of
 * every worker below it. Steps naming the same host share it; without one, a step runs in the agent's default host.
 */
export const HostName = z.string().regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit');

/** Milliseconds to wait after asking a child to stop before killing it, or `brutal_kill` / `infinity`. */
export const Shutdown = z.union([z.number().int().nonnegative().describe('a number of ms'), z.literal('brutal_kill'), z.literal('infinity')]);
export type Shutdown = z.infer<typeof Shutdown>;

/** Step reference `name@version`, resolved against the coordinator's step registry. */
export const StepRef = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}@[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/, 'must be name@version');
export type StepRef = z.infer<typeof StepRef>;

/** Where a worker's messages come from: an MQTT topic filter, a sibling's output, or a timed tick. */
export const ChildInput = z.union([
  z.string().refine(isValidFilter, 'must be a valid MQTT topic filter').describe('an MQTT topic filter'),
  z.strictObject({ from: childId }).describe('{"from": "<sibling id>"}'),
  z.strictObject({ cron: z.string().min(1) }).describe('{"cron": "<expression>"}'),
]);
export type ChildInput = z.infer<typeof ChildInput>;

/** Relative topics land under the device's `flotilla/d/<id>/out/`; a leading `/` makes the topic absolute. */
export const ChildOutput = z.string().refine((t) => isValidTopicName(t.startsWith('/') ? t.slice(1) : t), 'must be a topic name without wildcards');

const childCommon = {
  id: childId,
  restart: RestartType.default('permanent'),
  significant: z.boolean().default(false),
};

export const WorkerChild = z.strictObject({
  ...childCommon,
  step: StepRef,
  // OTP: default shutdown is 5000 ms for a worker.
  shutdown: Shutdown.default(5000),
  config: z.record(z.string(), z.unknown()).default({}),
  input: ChildInput.optional(),
  output: ChildOutput.optional(),
  host: HostName.optional(),
});
export type WorkerChild = z.infer<typeof WorkerChild>;

export interface SupervisorChild {
  id: string;
  restart: RestartType;
  significant: boolean;
  shutdown: Shutdown;
  supervisor: SupervisorSpec;
}
export type ChildSpec = WorkerChild | SupervisorChild;

export interface SupervisorSpec {
  id: string;
  strategy: Strategy;
  intensity: number;
  period: number;
  autoShutdown: AutoShutdown;
  /** Step host of the workers below that name none (already filled into each worker by `parseSupervisorSpec`). */
  host?: string;
  children: ChildSpec[];
}

const supervisorFlags = {
  strategy: Strategy.default('one_for_one'),
  // OTP: default intensity 1, period 5 seconds.
  intensity: z.number().int().nonnegative().default(1),
  period: z.number().int().positive().default(5),
  autoShutdown: AutoShutdown.default('never'),
  host: HostName.optional(),
};

// Nested supervisors may leave out their own id; it then is the child id.
const NestedSupervisorSpec: z.ZodType<SupervisorSpecDraft> = z.lazy(() =>
  z.strictObject({ id: childId.optional(), ...supervisorFlags, children: z.array(Child).default([]) }),
);

const SupervisorChildSchema = z.strictObject({
  ...childCommon,
  supervisor: NestedSupervisorSpec,
  // OTP: default shutdown is infinity for a supervisor.
  shutdown: Shutdown.default('infinity'),
});

// A child is a worker if it has `step`, a supervisor if it has `supervisor`: dispatch on that, so errors name the
// real problem instead of "no union member matched".
const Child: z.ZodType<ChildDraft> = z.unknown().transform((value, ctx) => {
  const has = (key: string) => typeof value === 'object' && value !== null && key in value;
  const schema = has('supervisor') ? SupervisorChildSchema : has('step') ? WorkerChild : undefined;
  if (!schema) {
    ctx.addIssue({ code: 'custom', message: 'a child needs either "step" (a worker) or "supervisor" (a nested supervisor)' });
    return z.NEVER;
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

const RootSchema = z.strictObject({ id: childId, ...supervisorFlags, children: z.array(Child).default([]) });

/** Parses and checks a supervisor spec; throws a ValidationError naming every problem with its JSON path. */
export function parseSupervisorSpec(json: unknown): SupervisorSpec {
  const result = RootSchema.safeParse(json);
  if (!result.success) throw new ValidationError(`supervisor spec: ${describeZodError(result.error)}`);
  const spec = withIds(result.data, result.data.id);
  const problems = checkSupervisor(spec, []);
  if (problems.length) throw new ValidationError(`supervisor spec: ${problems.join('; ')}`);
  return spec;
}

type SupervisorSpecDraft = Omit<SupervisorSpec, 'id' | 'children'> & { id?: string; children: ChildDraft[] };
type ChildDraft = WorkerChild | (Omit<SupervisorChild, 'supervisor'> & { supervisor: SupervisorSpecDraft });

/** Fills in nested supervisors' ids and each worker's host (its own, else its nearest supervisor's). */
function withIds(draft: SupervisorSpecDraft, id: string, inheritedHost?: string): SupervisorSpec {
  const host = draft.host ?? inheritedHost;
  return {
    ...draft,
    id: draft.id ?? id,
    children: draft.children.map((c) => {
      if ('supervisor' in c) return { ...c, supervisor: withIds(c.supervisor, c.id, host) };
      return c.host === undefined && host !== undefined ? { ...c, host } : c;
    }),
  };
}

/** The OTP rules on a whole spec that a schema of one value cannot express. */
function checkSupervisor(spec: SupervisorSpec, path: (string | number)[]): string[] {
  const at = (...rest: (string | number)[]) => [...path, ...rest].map(String).join('.') || '(root)';
  const problems: string[] = [];
  if (spec.strategy === 'simple_one_for_one' && spec.children.length !== 1) {
    // OTP: a simple_one_for_one supervisor has exactly one child spec, the template of its dynamic children.
    problems.push(`${at('children')}: simple_one_for_one needs exactly one child (the template), got ${spec.children.length}`);
  }
  const seen = new Map<string, number>();
  spec.children.forEach((child, i) => {
    const prev = seen.get(child.id);
    // OTP: child ids are unique within a supervisor (duplicate_child_name).
    if (prev !== undefined) problems.push(`${at('children', i, 'id')}: duplicate child id "${child.id}" (also children.${prev})`);
    seen.set(child.id, i);
    if (child.significant && child.restart === 'permanent') {
      // OTP: a permanent child cannot be significant.
      problems.push(`${at('children', i, 'significant')}: a permanent child cannot be significant`);
    }
    if (child.significant && spec.autoShutdown === 'never') {
      // OTP: significant children are only allowed when auto_shutdown is not never.
      problems.push(`${at('children', i, 'significant')}: significant children need autoShutdown any_significant or all_significant`);
    }
    if ('supervisor' in child) problems.push(...checkSupervisor(child.supervisor, [...path, 'children', i, 'supervisor']));
  });
  spec.children.forEach((child, i) => {
    if ('step' in child && child.input && typeof child.input === 'object' && 'from' in child.input) {
      const from = child.input.from;
      if (from === child.id) problems.push(`${at('children', i, 'input', 'from')}: a child cannot read its own output`);
      else if (!seen.has(from)) problems.push(`${at('children', i, 'input', 'from')}: no sibling with id "${from}"`);
      else if (!spec.children.some((c) => c.id === from && 'step' in c)) {
        problems.push(`${at('children', i, 'input', 'from')}: "${from}" is a supervisor, not a worker with an output`);
      }
    }
  });
  return problems;
}

export function isSupervisorChild(child: ChildSpec): child is SupervisorChild {
  return 'supervisor' in child;
}

/** A run-time child of a simple_one_for_one supervisor: the template with its own id and, optionally, other config/wiring. */
export const StartChildCommand = z.strictObject({
  type: z.literal('start_child'),
  /** Path of the simple_one_for_one supervisor: child ids from the root, joined by `/` (the root id first). */
  supervisor: z.string().min(1),
  /** The new child's id (`id` is the command's own id in the command envelope). */
  child: childId,
  config: z.record(z.string(), z.unknown()).optional(),
  input: ChildInput.optional(),
  output: ChildOutput.optional(),
});
export type StartChildCommand = z.infer<typeof StartChildCommand>;

export const TerminateChildCommand = z.strictObject({
  type: z.literal('terminate_child'),
  supervisor: z.string().min(1),
  child: childId,
});
export type TerminateChildCommand = z.infer<typeof TerminateChildCommand>;
