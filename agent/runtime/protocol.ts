/**
 * Messages between the agent thread and a step host (a worker isolate running many step instances). Every message
 * names its instance (`i`, a number the agent thread allocates). One postMessage per batch each way; payload bytes
 * travel packed in transferred ArrayBuffers (lengths in one, bytes in the other).
 */
import type { ExitReason } from '../../shared/step-abi.js';

export interface WorkerLimits {
  timeBudgetMs: number;
  maxOutputBytes: number;
}

/**
 * The host's control block, an Int32Array over a SharedArrayBuffer: the agent thread's backstop watchdog reads
 * BUSY/CALLS/CURRENT to see a call stuck past its budget; it writes KILL (an instance id) to have a metered
 * instance trapped at its next `tick`.
 */
export const CONTROL_BUSY = 0;
export const CONTROL_CALLS = 1;
export const CONTROL_CURRENT = 2;
export const CONTROL_KILL = 3;
export const CONTROL_SLOTS = 4;

/** `count` messages; message i has `lens[i]` bytes, stored back to back in `data`. */
export interface Packed {
  count: number;
  lens: ArrayBuffer | null;
  data: ArrayBuffer | null;
}

export type ToHost =
  /** A new instance of `module`; answered by `ready`, or `done` with a `start_failed` exit. */
  | { t: 'instantiate'; i: number; module: WebAssembly.Module; config: Uint8Array; limits: WorkerLimits }
  /** `from`: where the rest of a batch cut at the end of a slice goes on (thread-host.ts), else from its start. */
  | ({ t: 'batch'; i: number; from?: { index: number; offset: number } } & Packed)
  | { t: 'swap'; i: number; module: WebAssembly.Module; config: Uint8Array; limits: WorkerLimits }
  /**
   * From now on, hand the outputs of instance `i` to the instances `to` in the host (`{from}` consumers); unless
   * `keep`, a batch's outputs handed to all of them come back as a count only (`out.lens`/`out.data` null).
   */
  | { t: 'link'; i: number; to: number[]; keep: boolean }
  /** Graceful: answered by `stopped` after the batches sent before it. */
  | { t: 'stop'; i: number }
  /** Forget the instance at once (a kill); answered by `dropped`. */
  | { t: 'drop'; i: number };

/**
 * Logs as flat pairs: level, text, level, text, ... `fwd`: the instances the batch's outputs were also handed to in
 * the host; each one's `piped` reply (its batch of `count` messages, those outputs) follows in the same `chain`.
 */
export type FromHost =
  | { t: 'ready'; i: number; out: Packed; logs: (number | string)[] }
  /** `more`: only part of the batch ran (its `processed` messages, of `more` bytes); a later `done` ends it. */
  | { t: 'done'; i: number; processed: number; out: Packed; logs: (number | string)[]; exit?: ExitReason; fwd?: number[]; more?: number }
  | { t: 'piped'; i: number; count: number; processed: number; out: Packed; logs: (number | string)[]; exit?: ExitReason; fwd?: number[] }
  /** The replies of one batch and of the batches it was piped into, in the order they ran. */
  | { t: 'chain'; replies: FromHost[] }
  | { t: 'swapped'; i: number; out: Packed; logs: (number | string)[]; error?: string }
  | { t: 'stopped'; i: number }
  | { t: 'dropped'; i: number };
