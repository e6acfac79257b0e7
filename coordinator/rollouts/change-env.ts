import { moduleRefOf, resolveSpec } from '../desired/index.js';
import { agentPin, type ReleaseRegistry } from '../releases/index.js';
import type { StepRegistry } from '../steps/index.js';
import type { ChangeEnv } from './change.js';

/** The parts of a coordinator a rollout's change is resolved against (coordinator.ts hands them over). */
export interface ChangeParts {
  steps: StepRegistry;
  releases: ReleaseRegistry;
  revoked(): ReadonlySet<string>;
  /** This coordinator's HTTP port, where its devices download agent releases (known once it listens). */
  httpPort(): number;
}

/** The change table's view (change.ts) of this coordinator: its step registry, its agent releases, its revoked keys. */
export function changeEnv(parts: ChangeParts): ChangeEnv {
  const { steps, releases } = parts;
  return {
    steps: {
      resolve: (spec) => resolveSpec(spec, (ref) => steps.resolve(ref)),
      module: (ref) => {
        const info = steps.resolve(ref);
        return info && moduleRefOf(info);
      },
    },
    releases: {
      resolve: (version) => releases.resolveVersion(version),
      held: (version) => releases.ofVersion(version),
      pin: (target, version, deadlineS) => agentPin(target, releases.ofVersion(version), parts.httpPort(), deadlineS),
    },
    revoked: parts.revoked,
  };
}
