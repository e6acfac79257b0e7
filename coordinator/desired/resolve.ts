import { stepRefs, type ModuleRef } from '../../shared/desired.js';
import { ValidationError } from '../../shared/errors.js';
import type { StepInfo } from '../../shared/modules.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';

/**
 * Check a supervisor spec and resolve every `name@version` it uses to the module registered under it (digest, size,
 * manifest limits, signature), so agents can fetch by digest. Pure: `lookup` is the step registry. Throws a ValidationError
 * naming the problem: the spec's own (with its JSON path) or every step reference nobody pushed.
 */
export function resolveSpec(json: unknown, lookup: (ref: string) => StepInfo | undefined): Record<string, ModuleRef> {
  const spec = parseSupervisorSpec(json);
  const modules: Record<string, ModuleRef> = {};
  const unknown: string[] = [];
  for (const ref of stepRefs(spec)) {
    const info = lookup(ref);
    if (!info) unknown.push(ref);
    else modules[ref] = moduleRefOf(info);
  }
  if (unknown.length) throw new ValidationError(`unknown step ${unknown.length > 1 ? 'references' : 'reference'} ${unknown.join(', ')}: push ${unknown.length > 1 ? 'them' : 'it'} first (POST /api/v1/steps, flotilla step push)`);
  return modules;
}

/** What a desired state says of a registered step: its digest, size, manifest limits and signature. */
export function moduleRefOf(info: StepInfo): ModuleRef {
  return { sha256: info.sha256, size: info.size, ...(info.limits ? { limits: info.limits } : {}), ...(info.signature ? { signature: info.signature } : {}) };
}
