/**
 * The metering rewriter (docs/step-abi.md, "What the host adds to a module"): every function entry and every loop
 * header spends fuel from an exported global and calls an imported `tick` when the fuel drops below zero, so a host
 * can preempt a step inside a shared thread. Pure: bytes in, bytes out.
 */
import { StepLoadError } from '../errors.js';
import { ByteWriter, Reader, sectionReader, sections, type Section } from '../../../shared/wasm/binary.js';
import { MeteringError } from './errors.js';
import { scanExpression, uncheckedWeights, type Region, type Scan } from './regions.js';

/** The import the rewriter adds: `() -> ()`, called when the fuel runs out. */
export const METER_TICK = { module: 'flotilla_meter', name: 'tick' } as const;
/** The mutable i32 global the rewriter adds and exports: fuel left before the next `tick`. */
export const METER_FUEL = 'flotilla_fuel';
/** The most one check charges, however long the code it guards (keeps a check's cost well inside an i32). */
export const MAX_CHECK_COST = 1 << 20;

export interface MeterOptions {
  /** Initial value of `flotilla_fuel` (default 0: the first check calls `tick`, before the host set any fuel). */
  fuel?: number;
}

const SECTION = { custom: 0, type: 1, import: 2, global: 6, export: 7, start: 8, element: 9, code: 10 } as const;
/** Where each known section id goes in a module (spec §5.5.2): tag (13) after memory, data count (12) before code. */
const ORDER = new Map([[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [13, 6], [6, 7], [7, 8], [8, 9], [9, 10], [12, 11], [10, 12], [11, 13]]);

/** What the rewrite needs to know of the original module. */
interface Facts {
  types: number;
  /** Index of an existing `() -> ()` type, or -1. */
  voidType: number;
  importedFuncs: number;
  globals: number;
}

function readFacts(bytes: Uint8Array, list: Section[]): Facts {
  const facts: Facts = { types: 0, voidType: -1, importedFuncs: 0, globals: 0 };
  for (const section of list) {
    const r = sectionReader(bytes, section);
    if (section.id === SECTION.type) {
      facts.types = r.u32();
      for (let i = 0; i < facts.types; i++) {
        if (r.byte() !== 0x60) throw new StepLoadError('malformed Wasm binary: bad function type');
        const params = r.u32();
        for (let n = params; n > 0; n--) r.valtype();
        const results = r.u32();
        for (let n = results; n > 0; n--) r.valtype();
        if (params === 0 && results === 0 && facts.voidType < 0) facts.voidType = i;
      }
    } else if (section.id === SECTION.import) {
      for (let n = r.u32(); n > 0; n--) {
        const module = r.name();
        r.name();
        const kind = r.byte();
        if (module === METER_TICK.module) throw new MeteringError(`cannot meter the module: it already imports from "${module}", which the host reserves`);
        if (kind === 0) facts.importedFuncs++, r.u32();
        else if (kind === 1) r.byte(), r.limits();
        else if (kind === 2) r.limits();
        else if (kind === 3) r.valtype(), r.byte(), facts.globals++;
        else if (kind === 4) r.byte(), r.u32();
        else throw new StepLoadError(`malformed Wasm binary: unknown import kind ${kind}`);
      }
    } else if (section.id === SECTION.global) {
      facts.globals += r.u32();
    }
  }
  return facts;
}

/** The rewrite of one module: its facts and the indices it adds. */
class Rewrite {
  readonly voidType: number;
  readonly tickFunc: number;
  readonly fuelGlobal: number;
  /** `global.get $fuel`, `global.set $fuel`, `call $tick`, encoded once. */
  private readonly getFuel: Uint8Array;
  private readonly setFuel: Uint8Array;
  private readonly callTick: Uint8Array;

  constructor(readonly bytes: Uint8Array, readonly facts: Facts) {
    this.voidType = facts.voidType >= 0 ? facts.voidType : facts.types;
    this.tickFunc = facts.importedFuncs; // appended after the existing function imports
    this.fuelGlobal = facts.globals; // appended after every existing global
    this.getFuel = new ByteWriter(6).byte(0x23).u32(this.fuelGlobal).result();
    this.setFuel = new ByteWriter(6).byte(0x24).u32(this.fuelGlobal).result();
    this.callTick = new ByteWriter(6).byte(0x10).u32(this.tickFunc).result();
  }

  /** Function indices from the old index space to the new: defined functions move up by the added import. */
  func(index: number): number {
    return index >= this.facts.importedFuncs ? index + 1 : index;
  }

  /**
   * The fuel check: `fuel -= cost; if (fuel < 0) tick();`. `cost` is the number of instructions the check guards
   * (up to the next check), so fuel counts roughly instructions executed.
   */
  check(w: ByteWriter, cost: number): void {
    w.bytes(this.getFuel).byte(0x41).s32(Math.min(Math.max(cost, 1), MAX_CHECK_COST)).byte(0x6b).bytes(this.setFuel);
    w.bytes(this.getFuel).byte(0x41).byte(0x00).byte(0x48).byte(0x04).byte(0x40).bytes(this.callTick).byte(0x0b);
  }

  /**
   * Pass 2: copies a scanned expression with function indices shifted; with `checks`, inserts them after every
   * loop header and, if `checks.entry`, at the start, each charging `checks.cost(region)`.
   */
  emit(w: ByteWriter, scan: Scan, checks?: { entry: boolean; cost(region: Region): number }): void {
    const { bytes } = this;
    const { loops, funcs } = scan;
    const cost = checks?.cost;
    if (checks?.entry) this.check(w, checks.cost(scan.entry));
    let cursor = scan.start;
    let l = 0;
    let f = 0;
    // Both lists are in byte order: merge them.
    while (l < loops.length || f < funcs.length) {
      if (f >= funcs.length || (l < loops.length && loops[l].pos <= funcs[f].funcStart)) {
        const loop = loops[l++];
        w.bytes(bytes.subarray(cursor, loop.pos));
        if (cost) this.check(w, cost(loop));
        cursor = loop.pos;
      } else {
        const call = funcs[f++];
        w.bytes(bytes.subarray(cursor, call.funcStart)).u32(this.func(call.func));
        cursor = call.funcEnd;
      }
    }
    w.bytes(bytes.subarray(cursor, scan.end));
  }

  /** A constant expression (global initialisers, element offsets and items): copied with indices shifted. */
  constant(r: Reader, w: ByteWriter): void {
    this.emit(w, scanExpression(r, this.facts.importedFuncs));
  }

  types(r: Reader | undefined): ByteWriter {
    const w = new ByteWriter((r ? r.end - r.pos : 0) + 8);
    if (r && this.facts.voidType >= 0) return w.bytes(this.bytes.subarray(r.pos, r.end));
    if (r) r.u32();
    w.u32(this.facts.types + 1);
    if (r) w.bytes(this.bytes.subarray(r.pos, r.end));
    return w.bytes([0x60, 0, 0]);
  }

  imports(r: Reader | undefined): ByteWriter {
    const w = new ByteWriter((r ? r.end - r.pos : 0) + 32);
    const count = r ? r.u32() : 0;
    w.u32(count + 1);
    if (r) w.bytes(this.bytes.subarray(r.pos, r.end));
    return w.name(METER_TICK.module).name(METER_TICK.name).byte(0x00).u32(this.voidType);
  }

  globals(r: Reader | undefined, fuel: number): ByteWriter {
    const w = new ByteWriter((r ? r.end - r.pos : 0) + 16);
    const count = r ? r.u32() : 0;
    w.u32(count + 1);
    for (let n = count; r && n > 0; n--) {
      const from = r.pos;
      r.valtype();
      r.byte();
      w.bytes(this.bytes.subarray(from, r.pos));
      this.constant(r, w);
    }
    return w.bytes([0x7f, 0x01, 0x41]).s32(fuel).byte(0x0b);
  }

  exports(r: Reader | undefined): ByteWriter {
    const w = new ByteWriter((r ? r.end - r.pos : 0) + 24);
    const count = r ? r.u32() : 0;
    w.u32(count + 1);
    for (let n = count; r && n > 0; n--) {
      const from = r.pos;
      if (r.name() === METER_FUEL) throw new MeteringError(`cannot meter the module: it already exports "${METER_FUEL}", which the host reserves`);
      const kind = r.byte();
      w.bytes(this.bytes.subarray(from, r.pos)).u32(kind === 0 ? this.func(r.u32()) : r.u32());
    }
    return w.name(METER_FUEL).byte(0x03).u32(this.fuelGlobal);
  }

  start(r: Reader): ByteWriter {
    return new ByteWriter(6).u32(this.func(r.u32()));
  }

  elements(r: Reader): ByteWriter {
    const w = new ByteWriter(r.end - r.pos + 16);
    const count = r.u32();
    w.u32(count);
    for (let n = count; n > 0; n--) {
      const flags = r.u32();
      if (flags > 7) throw new StepLoadError(`malformed Wasm binary: unknown element segment kind ${flags}`);
      w.u32(flags);
      if ((flags & 1) === 0) {
        if (flags & 2) w.u32(r.u32()); // table index
        this.constant(r, w); // offset
      }
      if (flags & 3) w.byte(r.byte()); // element kind or reference type
      const items = r.u32();
      w.u32(items);
      for (let i = items; i > 0; i--) {
        if (flags & 4) this.constant(r, w);
        else w.u32(this.func(r.u32()));
      }
    }
    return w;
  }

  code(r: Reader): ByteWriter {
    const w = new ByteWriter(Math.ceil((r.end - r.pos) * 1.3) + 16);
    const count = r.u32();
    const bodies: { from: number; scan: Scan }[] = [];
    for (let n = count; n > 0; n--) {
      const size = r.u32();
      const end = r.pos + size;
      if (end > r.end) throw new StepLoadError('malformed Wasm binary: function body runs past the code section');
      const from = r.pos;
      for (let groups = r.u32(); groups > 0; groups--) r.u32(), r.valtype(); // local declarations
      const fr = new Reader(this.bytes, end);
      fr.pos = r.pos;
      const scan = scanExpression(fr, this.facts.importedFuncs);
      if (fr.pos !== end) throw new MeteringError(`cannot meter the module: function body ends at byte ${fr.pos}, before its declared end at byte ${end}`);
      bodies.push({ from, scan });
      r.pos = end;
    }
    const weights = uncheckedWeights(bodies.map((b) => b.scan.entry), this.facts.importedFuncs);
    const cost = (region: Region) => region.callees.reduce((sum, func) => sum + Math.max(0, weights[func - this.facts.importedFuncs] ?? 0), region.count);
    w.u32(count);
    const body = new ByteWriter(1024);
    for (const [i, { from, scan }] of bodies.entries()) {
      body.length = 0;
      body.bytes(this.bytes.subarray(from, scan.start));
      this.emit(body, scan, { entry: weights[i] < 0, cost });
      w.u32(body.length).bytes(body.result());
    }
    return w;
  }
}

const customName = (bytes: Uint8Array, section: Section) => sectionReader(bytes, section).name();
/**
 * Custom sections that describe the original's function indices or code offsets (names, DWARF, source maps):
 * stale after the rewrite, they would mislabel every function, so they are dropped. The engine needs none of them.
 */
const describesOriginal = (name: string) => name === 'name' || name.startsWith('.debug_') || name === 'sourceMappingURL' || name === 'external_debug_info';

/**
 * Returns `wasm` metered: it imports `flotilla_meter.tick: () -> ()` and exports the mutable i32 global
 * `flotilla_fuel`; every function entry and loop header subtracts a cost from the fuel and calls `tick` when it is
 * below zero. Function indices are shifted past the new import everywhere (calls, ref.func, element segments,
 * exports, start); custom sections that describe the original's indices or code offsets (names, DWARF, source maps)
 * are dropped. Throws MeteringError (a StepLoadError) naming what it cannot decode.
 */
export function meter(wasm: Uint8Array, opts: MeterOptions = {}): Uint8Array {
  const list = sections(wasm);
  const rewrite = new Rewrite(wasm, readFacts(wasm, list));
  const fuel = opts.fuel ?? 0;
  // Sections the rewrite adds when the module has none, in section order.
  const missing = new Map<number, () => ByteWriter>([
    [SECTION.type, () => rewrite.types(undefined)],
    [SECTION.import, () => rewrite.imports(undefined)],
    [SECTION.global, () => rewrite.globals(undefined, fuel)],
    [SECTION.export, () => rewrite.exports(undefined)],
  ]);
  for (const s of list) missing.delete(s.id);
  const out = new ByteWriter(Math.ceil(wasm.length * 1.3) + 64).bytes(wasm.subarray(0, 8));
  const addMissingBefore = (rank: number) => {
    for (const [id, make] of missing) {
      if (ORDER.get(id)! < rank) out.section(id, make()), missing.delete(id);
    }
  };
  for (const section of list) {
    if (section.id === SECTION.custom) {
      if (!describesOriginal(customName(wasm, section))) out.bytes(wasm.subarray(section.sectionStart, section.end));
      continue;
    }
    addMissingBefore(ORDER.get(section.id) ?? 0);
    const r = sectionReader(wasm, section);
    const payload =
      section.id === SECTION.type ? rewrite.types(r)
      : section.id === SECTION.import ? rewrite.imports(r)
      : section.id === SECTION.global ? rewrite.globals(r, fuel)
      : section.id === SECTION.export ? rewrite.exports(r)
      : section.id === SECTION.start ? rewrite.start(r)
      : section.id === SECTION.element ? rewrite.elements(r)
      : section.id === SECTION.code ? rewrite.code(r)
      : undefined;
    if (payload) out.section(section.id, payload);
    else out.bytes(wasm.subarray(section.sectionStart, section.end));
  }
  addMissingBefore(Infinity);
  return out.take();
}
