/** A module that must not run: not Wasm, wrong imports or exports, memory over the limit, sha256 mismatch. */
export class StepLoadError extends Error {
  override name = 'StepLoadError';
}
