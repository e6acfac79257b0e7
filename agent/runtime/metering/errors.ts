import { StepLoadError } from '../errors.js';

/** A module the metering rewriter cannot decode; the message names the opcode and its byte offset in the module. */
export class MeteringError extends StepLoadError {
  override name = 'MeteringError';
}
