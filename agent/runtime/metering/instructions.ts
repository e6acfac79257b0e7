/**
 * The instruction decoder: the immediates of every instruction Node 18 and 20 enable by default (W3C Wasm core
 * spec 2.0 §5.4: MVP, sign extension, saturating conversions, bulk memory, reference types, multi-value; fixed-width
 * SIMD; threads/atomics; legacy exception handling and tail calls, which V8 also ships). It decodes only what a
 * rewriter needs: where each instruction ends, which ones open and close blocks, and where a function index sits.
 * Typing is the engine's job. Pure; unknown opcodes throw MeteringError naming the opcode and byte offset.
 */
import type { Reader } from '../../../shared/wasm/binary.js';
import { MeteringError } from './errors.js';

/** Immediate shapes. */
const NONE = 0;
const BLOCK = 1; // block type: 0x40, a value type, or an s33 type index
const U32 = 2; // one index (label, local, global, table, memory, tag)
const U32X2 = 3; // two indices (call_indirect: type, table)
const FUNC = 4; // a function index (call, return_call, ref.func): shifted by the rewriter
const BR_TABLE = 5;
const SELECT_T = 6; // vec(valtype)
const MEMARG = 7;
const I32 = 8;
const I64 = 9;
const F32 = 10;
const F64 = 11;
const BYTE = 12; // ref.null's reference type
const PREFIX_FC = 13;
const PREFIX_FD = 14;
const PREFIX_FE = 15;
const INVALID = 255;

const SINGLE = new Uint8Array(256).fill(INVALID);
const set = (from: number, to: number, shape: number) => SINGLE.fill(shape, from, to + 1);
set(0x00, 0x01, NONE); // unreachable, nop
set(0x02, 0x04, BLOCK); // block, loop, if
set(0x05, 0x05, NONE); // else
set(0x06, 0x06, BLOCK); // try (legacy exceptions)
set(0x07, 0x09, U32); // catch tag, throw tag, rethrow label
set(0x0b, 0x0b, NONE); // end
set(0x0c, 0x0d, U32); // br, br_if
set(0x0e, 0x0e, BR_TABLE);
set(0x0f, 0x0f, NONE); // return
set(0x10, 0x10, FUNC); // call
set(0x11, 0x11, U32X2); // call_indirect
set(0x12, 0x12, FUNC); // return_call
set(0x13, 0x13, U32X2); // return_call_indirect
set(0x18, 0x18, U32); // delegate label
set(0x19, 0x19, NONE); // catch_all
set(0x1a, 0x1b, NONE); // drop, select
set(0x1c, 0x1c, SELECT_T);
set(0x20, 0x26, U32); // local.get/set/tee, global.get/set, table.get/set
set(0x28, 0x3e, MEMARG); // loads and stores
set(0x3f, 0x40, U32); // memory.size, memory.grow (memory index)
set(0x41, 0x41, I32);
set(0x42, 0x42, I64);
set(0x43, 0x43, F32);
set(0x44, 0x44, F64);
set(0x45, 0xc4, NONE); // numeric, including sign extension (0xc0-0xc4)
set(0xd0, 0xd0, BYTE); // ref.null
set(0xd1, 0xd1, NONE); // ref.is_null
set(0xd2, 0xd2, FUNC); // ref.func
set(0xfc, 0xfc, PREFIX_FC);
set(0xfd, 0xfd, PREFIX_FD);
set(0xfe, 0xfe, PREFIX_FE);

/** 0xFC: how many index immediates each sub-opcode has (0-7 saturating truncations, 8-17 bulk memory and tables). */
const FC_INDICES = [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1];

/** 0xFD (fixed-width SIMD): the immediates of sub-opcodes 0-255; the gaps of the opcode table are INVALID. */
const LANE = 16; // one lane index byte
const MEMARG_LANE = 17;
const V128 = 18; // 16 bytes: v128.const, i8x16.shuffle
const SIMD = new Uint8Array(256).fill(NONE);
SIMD.fill(MEMARG, 0x00, 0x0c); // v128.load ... v128.store
SIMD.fill(V128, 0x0c, 0x0e);
SIMD.fill(LANE, 0x15, 0x23); // extract_lane / replace_lane
SIMD.fill(MEMARG_LANE, 0x54, 0x5c); // load*_lane, store*_lane
SIMD.fill(MEMARG, 0x5c, 0x5e); // load32_zero, load64_zero
for (const gap of [0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb, 0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee]) SIMD[gap] = INVALID;

/** One decoded instruction: what a rewriter needs to know of it. */
export interface Instruction {
  /** Byte offset of the opcode. */
  at: number;
  opcode: number;
  /** The sub-opcode of a prefixed instruction (0xFC, 0xFD, 0xFE), else -1. */
  sub: number;
  /** For call, return_call and ref.func: the function index and the byte range of its immediate; else -1. */
  func: number;
  funcStart: number;
  funcEnd: number;
}

export const OP_LOOP = 0x03;
export const OP_CALL_INDIRECT = 0x11;
export const OP_RETURN_CALL_INDIRECT = 0x13;
export const OP_REF_FUNC = 0xd2;
/** Instructions that open a block closed by `end` (or, for try, by `delegate`). */
export const opensBlock = (op: number) => op === 0x02 || op === 0x03 || op === 0x04 || op === 0x06;
/** `end`, or `delegate`, which ends a try block in its place. */
export const closesBlock = (op: number) => op === 0x0b || op === 0x18;

const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

function unknown(at: number, opcode: number, sub?: number): MeteringError {
  const name = sub === undefined ? hex(opcode) : `${hex(opcode)} ${hex(sub)}`;
  return new MeteringError(`cannot meter the module: unknown opcode ${name} at byte ${at}`);
}

function memarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) r.u32(); // multi-memory: a memory index follows
  r.u32();
}

/** Decodes the instruction at `r.pos` into `out` (reused by the caller) and leaves `r` after it. */
export function decodeInstruction(r: Reader, out: Instruction): void {
  const at = r.pos;
  const opcode = r.byte();
  out.at = at;
  out.opcode = opcode;
  out.sub = -1;
  out.func = -1;
  switch (SINGLE[opcode]) {
    case NONE:
      return;
    case BLOCK:
      if (r.byte() & 0x80) r.skipLeb(4); // a type index (s33) continues; 0x40 and value types are one byte
      return;
    case U32:
      r.u32();
      return;
    case U32X2:
      r.u32();
      r.u32();
      return;
    case FUNC:
      out.funcStart = r.pos;
      out.func = r.u32();
      out.funcEnd = r.pos;
      return;
    case BR_TABLE:
      for (let n = r.u32(); n >= 0; n--) r.u32(); // the labels, then the default
      return;
    case SELECT_T:
      for (let n = r.u32(); n > 0; n--) r.byte();
      return;
    case MEMARG:
      memarg(r);
      return;
    case I32:
      r.skipLeb(5);
      return;
    case I64:
      r.skipLeb(10);
      return;
    case F32:
      r.skip(4);
      return;
    case F64:
      r.skip(8);
      return;
    case BYTE:
      r.byte();
      return;
    case PREFIX_FC: {
      const sub = (out.sub = r.u32());
      if (sub >= FC_INDICES.length) throw unknown(at, opcode, sub);
      for (let n = FC_INDICES[sub]; n > 0; n--) r.u32();
      return;
    }
    case PREFIX_FD: {
      const sub = (out.sub = r.u32());
      const shape = sub < 256 ? SIMD[sub] : INVALID;
      if (shape === MEMARG || shape === MEMARG_LANE) memarg(r);
      if (shape === LANE || shape === MEMARG_LANE) r.byte();
      else if (shape === V128) r.skip(16);
      else if (shape === INVALID) throw unknown(at, opcode, sub);
      return;
    }
    case PREFIX_FE: {
      const sub = (out.sub = r.u32());
      if (sub === 0x03) r.byte(); // atomic.fence's reserved byte
      else if (sub <= 0x02 || (sub >= 0x10 && sub <= 0x4e)) memarg(r);
      else throw unknown(at, opcode, sub);
      return;
    }
    default:
      throw unknown(at, opcode);
  }
}
