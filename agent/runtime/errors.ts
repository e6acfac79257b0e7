import type { ExitReason } from '../../shared/step-abi.js';

// Shared with the coordinator, which checks uploads against the same ABI rules (shared/wasm/).
export { StepLoadError } from '../../shared/wasm/step-load-error.js';

/** `init` failed, trapped or timed out, or the isolate could not start. `reason` is the `start_failed:...` exit reason. */
export class StepStartError extends Error {
  override name = 'StepStartError';
  constructor(readonly reason: ExitReason) {
    super(reason);
  }
}

/** A message the step never sees: larger than the step's `maxInputBytes`. The step keeps running. */
export class StepInputError extends Error {
  override name = 'StepInputError';
}

/**
 * A stored module or manifest whose bytes do not match its sha256 (corrupt or truncated). The bad files are already
 * removed, so fetching the module again and calling `StepStore.put` repairs the store.
 */
export class StepCorruptError extends Error {
  override name = 'StepCorruptError';
  constructor(readonly sha256: string, detail: string) {
    super(`stored step ${sha256} is corrupt (${detail}); it was removed from the store, fetch it again`);
  }
}

/** No module with this sha256 in the store. */
export class StepNotFoundError extends Error {
  override name = 'StepNotFoundError';
  constructor(readonly sha256: string) {
    super(`step ${sha256} is not in the store`);
  }
}
