// Flotilla step SDK for AssemblyScript: hides step ABI 1 (docs/step-abi.md).
//
//   import { input, emit, Status } from "../sdk";
//   export { alloc } from "../sdk";
//   export function process(ptr: usize, len: i32): i32 {
//     emit(input(ptr, len).toUpperCase());
//     return Status.Continue;
//   }

import { JsonObject } from "./json";
export { JsonObject, JsonWriter } from "./json";

// ABI: the only imports a step may use.
@external("flotilla", "emit") declare function hostEmit(ptr: usize, len: i32): void;
@external("flotilla", "log") declare function hostLog(level: i32, ptr: usize, len: i32): void;
@external("flotilla", "now_ms") declare function hostNowMs(): f64;

/** ABI: return values of `process` and `init`. */
export namespace Status {
  export const Continue: i32 = 0;
  /** From `process` only: the step has finished; it exits with reason `normal`. */
  export const Finished: i32 = 1;
  /** Any other value is an abnormal exit `exit:<code>` (from `init`: the step fails to start). */
  export const Failed: i32 = 2;
}

/**
 * ABI: the host asks for `len` bytes to write the next input (or the config) into. The block lives outside the
 * garbage-collected heap; `input`/`inputBytes` copy it into a managed value and free it.
 */
export function alloc(len: i32): usize {
  return heap.alloc(<usize>max(len, 1));
}

/** The input (or config) at `ptr` as a UTF-8 string; releases the host's block. */
export function input(ptr: usize, len: i32): string {
  const text = String.UTF8.decodeUnsafe(ptr, <usize>len);
  if (ptr != 0) heap.free(ptr); // ptr is 0 only for an absent config
  return text;
}

/** The input at `ptr` as bytes; releases the host's block. */
export function inputBytes(ptr: usize, len: i32): Uint8Array {
  const bytes = new Uint8Array(len);
  memory.copy(bytes.dataStart, ptr, <usize>len);
  if (ptr != 0) heap.free(ptr);
  return bytes;
}

/** Sends one output message (UTF-8). The host copies it at once. */
export function emit(text: string): void {
  const buf = String.UTF8.encode(text);
  hostEmit(changetype<usize>(buf), buf.byteLength);
}

export function emitBytes(bytes: Uint8Array): void {
  hostEmit(bytes.dataStart, bytes.byteLength);
}

function log(level: i32, text: string): void {
  const buf = String.UTF8.encode(text);
  hostLog(level, changetype<usize>(buf), buf.byteLength);
}

export function debug(text: string): void { log(0, text); }
export function info(text: string): void { log(1, text); }
export function warn(text: string): void { log(2, text); }
export function error(text: string): void { log(3, text); }

/** Wall-clock milliseconds since the Unix epoch. */
export function nowMs(): f64 {
  return hostNowMs();
}

/**
 * The numeric `field` of the JSON input message at `ptr` (releasing the host's block), or NaN after a warning when
 * the message is not JSON or has no such number: a step skips such a message rather than failing on it.
 */
export function inputNumber(ptr: usize, len: i32, field: string): f64 {
  const message = JsonObject.parse(input(ptr, len));
  const value = message == null ? NaN : message.number(field);
  if (isNaN(value)) warn("skipped a message without a numeric \"" + field + "\"");
  return value;
}
