/**
 * What each fuel check guards (pass 1 of the metering rewrite): the regions of a function body, separated by its
 * loop headers, and which functions can go without an entry check. Pure.
 */
import { StepLoadError } from '../errors.js';
import type { Reader } from '../../../shared/wasm/binary.js';
import { MeteringError } from './errors.js';
import { closesBlock, decodeInstruction, OP_CALL_INDIRECT, OP_LOOP, OP_REF_FUNC, OP_RETURN_CALL_INDIRECT, opensBlock, type Instruction } from './instructions.js';

/** A stretch of code guarded by one check: a function body outside its loops, or a loop body outside nested loops. */
export interface Region {
  /** Where its check goes: the start of the body, or just after the loop's block type. */
  pos: number;
  /** Instructions in it. */
  count: number;
  /** Module functions it calls directly (old indices): it pays for what those without an entry check run. */
  callees: number[];
  /** It has a call_indirect or return_call_indirect (the callee is any function in a table). */
  indirect: boolean;
}

/** What pass 1 learns of an expression. */
export interface Scan {
  /** Byte range of the instructions, up to and including the closing `end`. */
  start: number;
  end: number;
  entry: Region;
  loops: Region[];
  /** call, return_call and ref.func immediates naming module functions, in byte order. */
  funcs: Instruction[];
}

/**
 * Pass 1 over the expression at `r.pos` (`imported` = the module's function imports): its regions and
 * function-index immediates. Leaves `r` after the `end` that closes it.
 */
export function scanExpression(r: Reader, imported: number): Scan {
  const ins: Instruction = { at: 0, opcode: 0, sub: -1, func: -1, funcStart: 0, funcEnd: 0 };
  const entry: Region = { pos: r.pos, count: 0, callees: [], indirect: false };
  const scan: Scan = { start: r.pos, end: r.pos, entry, loops: [], funcs: [] };
  const regions = [entry]; // the innermost open loop's region last
  const open: (Region | null)[] = []; // per open block: its region if it is a loop
  for (;;) {
    try {
      decodeInstruction(r, ins);
    } catch (err) {
      if (err instanceof MeteringError || !(err instanceof StepLoadError)) throw err;
      throw new MeteringError(`cannot meter the module: ${err.message} in the instruction at byte ${ins.at}`);
    }
    const region = regions[regions.length - 1];
    region.count++;
    const op = ins.opcode;
    // Calls of imports are not followed: the host's imports never call back into the step (ABI).
    if (ins.func >= imported) {
      scan.funcs.push({ ...ins });
      if (op !== OP_REF_FUNC) region.callees.push(ins.func);
    } else if (op === OP_CALL_INDIRECT || op === OP_RETURN_CALL_INDIRECT) {
      region.indirect = true;
    }
    if (op === OP_LOOP) {
      const loop: Region = { pos: r.pos, count: 0, callees: [], indirect: false };
      scan.loops.push(loop);
      open.push(loop);
      regions.push(loop);
    } else if (opensBlock(op)) {
      open.push(null);
    } else if (closesBlock(op)) {
      if (open.length === 0) break;
      if (open.pop()) regions.pop();
    }
  }
  scan.end = r.pos;
  return scan;
}

/** The most instructions a function may run before its first check and still go without an entry check. */
export const MAX_UNCHECKED = 1000;

/**
 * Which functions need no entry check, from their entry regions (function i is index `imported + i`): a function
 * whose entry region makes no indirect call, closes no cycle of calls between unchecked functions, and runs at most
 * MAX_UNCHECKED instructions, the unchecked functions it calls included. Its callers' checks pay for it.
 * Every loop and every cycle of calls still passes a check: a cycle's calls from loop bodies pass the loop's check,
 * and a cycle through entry regions is broken at the function where the search meets it. Returns, per function, the
 * instructions it runs unchecked, or -1 if it keeps its entry check.
 */
export function uncheckedWeights(entries: Region[], imported: number): number[] {
  const IN_PROGRESS = -2;
  const weights: (number | undefined)[] = new Array(entries.length);
  const visit = (i: number, depth: number): number => {
    const known = weights[i];
    if (known !== undefined) return known;
    const entry = entries[i];
    weights[i] = IN_PROGRESS;
    let weight = entry.indirect || depth > 200 ? -1 : entry.count;
    for (const func of entry.callees) {
      if (weight < 0) break;
      const callee = func - imported;
      const w = callee < entries.length ? visit(callee, depth + 1) : -1;
      if (w === IN_PROGRESS) weight = -1; // a cycle: this function keeps the check that breaks it
      else if (w > 0) weight += w;
    }
    return (weights[i] = weight > MAX_UNCHECKED ? -1 : weight);
  };
  return entries.map((_, i) => visit(i, 0));
}
