/**
 * Messages between a step handle (agent thread) and its isolate (worker thread). One postMessage per batch each
 * way; payload bytes travel packed in transferred ArrayBuffers (lengths in one, bytes in the other).
 */
import type { ExitReason } from '../../shared/step-abi.js';

export interface WorkerLimits {
  timeBudgetMs: number;
  maxOutputBytes: number;
}

/** The message that gives an isolate its step (once; it runs no other). Until then it idles: a spare. */
export interface Instantiate {
  t: 'instantiate';
  module: WebAssembly.Module;
  config: Uint8Array;
  limits: WorkerLimits;
  /** Int32Array view: [BUSY, CALLS]; the agent thread's watchdog reads it to enforce the time budget. */
  control: SharedArrayBuffer;
}

export const CONTROL_BUSY = 0;
export const CONTROL_CALLS = 1;

/** `count` messages; message i has `lens[i]` bytes, stored back to back in `data`. */
export interface Packed {
  count: number;
  lens: ArrayBuffer | null;
  data: ArrayBuffer | null;
}

export type ToWorker =
  | Instantiate
  /** To a spare: instantiate this empty module, so the first receipt and instantiation of a module is done ahead. */
  | { t: 'warm'; module: WebAssembly.Module }
  | ({ t: 'batch' } & Packed)
  | { t: 'swap'; module: WebAssembly.Module; config: Uint8Array; limits: WorkerLimits }
  | { t: 'stop' };

/** Logs as flat pairs: level, text, level, text, ... */
export type FromWorker =
  | { t: 'warmed' }
  | { t: 'ready'; out: Packed; logs: (number | string)[] }
  | { t: 'done'; processed: number; out: Packed; logs: (number | string)[]; exit?: ExitReason }
  | { t: 'swapped'; out: Packed; logs: (number | string)[]; error?: string }
  | { t: 'stopped' };
