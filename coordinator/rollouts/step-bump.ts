import { isSupervisorChild, type ChildSpec, type SupervisorSpec } from '../../shared/supervisor-spec.js';

export interface StepBump {
  spec: SupervisorSpec;
  /** Paths (child ids from the root joined by `/`) of the workers whose step changed, with their old refs. */
  changed: { path: string; from: string }[];
}

/**
 * A step bump of a device's current spec: every worker running `name@*` gets `name@version`, everything else
 * stays as it is (the agent hot-swaps the changed workers). Null when no worker runs that step: the device is
 * skipped and reported, not given a spec it does not need.
 */
export function bumpStep(spec: SupervisorSpec, ref: string): StepBump | null {
  const name = ref.slice(0, ref.indexOf('@'));
  const changed: StepBump['changed'] = [];
  const rewrite = (s: SupervisorSpec, path: string): SupervisorSpec => ({
    ...s,
    children: s.children.map((child): ChildSpec => {
      const at = `${path}/${child.id}`;
      if (isSupervisorChild(child)) return { ...child, supervisor: rewrite(child.supervisor, at) };
      if (child.step.slice(0, child.step.indexOf('@')) !== name || child.step === ref) return child;
      changed.push({ path: at, from: child.step });
      return { ...child, step: ref };
    }),
  });
  const bumped = rewrite(spec, spec.id);
  return changed.length ? { spec: bumped, changed } : null;
}

/** Why a device cannot take this bump, or undefined when it can. */
export function bumpSkipReason(spec: SupervisorSpec | null, ref: string): string | undefined {
  const name = ref.slice(0, ref.indexOf('@'));
  if (!spec) return 'it has no desired state to bump';
  if (bumpStep(spec, ref)) return undefined;
  const runs = (s: SupervisorSpec): boolean => s.children.some((c) => (isSupervisorChild(c) ? runs(c.supervisor) : c.step.startsWith(`${name}@`)));
  return runs(spec) ? `it already runs ${ref}` : `it does not run ${name}`;
}
