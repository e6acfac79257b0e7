import { z } from 'zod';
import { ValidationError } from './errors.js';
import { LABEL_LIMITS, labelKeyProblem, labelValueProblem, type Labels } from './label-syntax.js';

/** Labels as they cross a boundary (API, summaries, files), and changes of them (shared/label-syntax.ts: the rules). */

function toLabels(entries: Iterable<[string, string]>): Labels {
  const labels: Record<string, string> = Object.create(null);
  for (const [k, v] of entries) labels[k] = v;
  return labels;
}

export const NO_LABELS: Labels = Object.freeze(toLabels([]));

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

/** A change of labels as JSON: a value sets it, null removes it (a merge patch, as `PATCH /api/v1/devices/:id` takes it). */
export const LabelPatchRecord = z
  .record(z.string().max(MAX_KEY), z.string().max(LABEL_LIMITS.valueMax).nullable())
  .superRefine((record, ctx) => {
    const entries = Object.entries(record);
    if (entries.length > LABEL_LIMITS.perDevice * 2) ctx.addIssue({ code: 'custom', message: `at most ${LABEL_LIMITS.perDevice * 2} changes at once` });
    for (const [k, v] of entries) {
      const problem = labelKeyProblem(k) ?? (v === null ? undefined : labelValueProblem(k, v));
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [k] });
    }
  });
export type LabelPatchRecord = z.output<typeof LabelPatchRecord>;

/** The same, parsed into a Map (keys from the wire never index a plain object). */
export const LabelPatch = LabelPatchRecord.transform((record) => new Map(Object.entries(record)));
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
