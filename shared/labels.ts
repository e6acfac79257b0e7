import { z } from 'zod';
import { ValidationError } from './errors.js';

/**
 * Device labels: key=value pairs with the syntax and limits of Kubernetes labels
 * (kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
 * A key is an optional DNS-subdomain prefix and `/`, then a name; values may be empty.
 */

/** k8s: a name or value segment is at most 63 characters, alphanumeric at both ends, `-_.` inside. */
const SEGMENT = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
/** k8s: the prefix is a DNS subdomain, at most 253 characters of lowercase labels joined by dots. */
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

export const LABEL_LIMITS = { nameMax: 63, prefixMax: 253, valueMax: 63, perDevice: 64 } as const;

/** Selector fields that are not labels (shared/selector.ts); a label may not shadow them. */
export const BUILTIN_FIELDS = ['cluster', 'arch', 'target', 'agentVersion', 'id'] as const;
export type BuiltinField = (typeof BUILTIN_FIELDS)[number];

export function isBuiltinField(key: string): key is BuiltinField {
  return (BUILTIN_FIELDS as readonly string[]).includes(key);
}

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > LABEL_LIMITS.prefixMax || !DNS_SUBDOMAIN.test(prefix)) {
      return `label key "${key}": the prefix must be a DNS subdomain (lowercase a-z 0-9 - . , at most ${LABEL_LIMITS.prefixMax} characters)`;
    }
  }
  if (name.length === 0 || name.length > LABEL_LIMITS.nameMax || !SEGMENT.test(name)) {
    return `label key "${key}": the name must be 1-${LABEL_LIMITS.nameMax} characters of A-Z a-z 0-9 - _ . , alphanumeric at both ends`;
  }
  if (prefix === undefined && isBuiltinField(name)) return `label key "${key}" is reserved: it is a built-in selector field`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(key: string, value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > LABEL_LIMITS.valueMax || !SEGMENT.test(value)) {
    return `label "${key}": the value "${value.slice(0, 80)}" must be at most ${LABEL_LIMITS.valueMax} characters of A-Z a-z 0-9 - _ . , alphanumeric at both ends (or empty)`;
  }
  return undefined;
}

/** A device's labels. Null prototype: keys come from the wire and must never meet Object.prototype. */
export type Labels = Readonly<Record<string, string>>;

function toLabels(entries: Iterable<[string, string]>): Labels {
  const labels: Record<string, string> = Object.create(null);
  for (const [k, v] of entries) labels[k] = v;
  return labels;
}

export const NO_LABELS: Labels = Object.freeze(toLabels([]));

export function labelValue(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

const MAX_KEY = LABEL_LIMITS.prefixMax + 1 + LABEL_LIMITS.nameMax;

/** `{"site": "paris", ...}` as sent in the API and in summaries. */
export const LabelsSchema = z
  .record(z.string().max(MAX_KEY), z.string().max(LABEL_LIMITS.valueMax))
  .superRefine((record, ctx) => {
    const entries = Object.entries(record);
    if (entries.length > LABEL_LIMITS.perDevice) ctx.addIssue({ code: 'custom', message: `at most ${LABEL_LIMITS.perDevice} labels per device, got ${entries.length}` });
    for (const [k, v] of entries) {
      const problem = labelKeyProblem(k) ?? labelValueProblem(k, v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [k] });
    }
  })
  .transform((record) => toLabels(Object.entries(record)));

/** A change of labels: a value sets it, null removes it (JSON merge patch, as `PATCH /api/v1/devices/:id` takes it). */
export const LabelPatch = z
  .record(z.string().max(MAX_KEY), z.string().max(LABEL_LIMITS.valueMax).nullable())
  .superRefine((record, ctx) => {
    const entries = Object.entries(record);
    if (entries.length > LABEL_LIMITS.perDevice * 2) ctx.addIssue({ code: 'custom', message: `at most ${LABEL_LIMITS.perDevice * 2} changes at once` });
    for (const [k, v] of entries) {
      const problem = labelKeyProblem(k) ?? (v === null ? undefined : labelValueProblem(k, v));
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [k] });
    }
  })
  .transform((record) => new Map(Object.entries(record)));
export type LabelPatch = z.output<typeof LabelPatch>;

/** The labels after a patch; refuses (ValidationError) a result over the per-device limit. */
export function applyLabelPatch(labels: Labels, patch: LabelPatch): Labels {
  const next = new Map(Object.entries(labels));
  for (const [k, v] of patch) {
    if (v === null) next.delete(k);
    else next.set(k, v);
  }
  if (next.size > LABEL_LIMITS.perDevice) throw new ValidationError(`labels: at most ${LABEL_LIMITS.perDevice} labels per device, the change would make ${next.size}`);
  return toLabels([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * kubectl's label arguments: `k=v` sets, `k-` removes (`flotilla label ID site=paris canary-exempt-`).
 * `allowRemove: false` for enrolment, where there is nothing to remove yet.
 */
export function parseLabelArgs(args: readonly string[], allowRemove = true): LabelPatch {
  const patch = new Map<string, string | null>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    let key: string;
    let value: string | null;
    if (eq !== -1) [key, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    else if (allowRemove && arg.endsWith('-')) [key, value] = [arg.slice(0, -1), null];
    else throw new ValidationError(`label "${arg}": expected KEY=VALUE${allowRemove ? ' or KEY- (remove)' : ''}`);
    const problem = labelKeyProblem(key) ?? (value === null ? undefined : labelValueProblem(key, value));
    if (problem) throw new ValidationError(problem);
    if (patch.has(key)) throw new ValidationError(`label "${key}" is given twice`);
    patch.set(key, value);
  }
  return patch;
}
