/**
 * The host's one reader of the Wasm binary format (W3C Wasm core spec, §5): the byte reader and writer, the section
 * walk, and what the host checks before compiling (type, import, function, memory and export sections). Instructions
 * are decoded on top of this Reader by metering/instructions.ts. Pure; throws StepLoadError on bad bytes.
 */
import { StepLoadError } from './step-load-error.js';

export interface FuncType {
  params: string[];
  results: string[];
}

export interface ImportEntry {
  module: string;
  name: string;
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag';
  /** For functions: the signature. */
  type?: FuncType;
}

export interface ExportEntry {
  name: string;
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag';
  type?: FuncType;
}

export interface MemoryDecl {
  min: number;
  max?: number;
  /** Byte range of the memory section's payload, for rewriting its limits. */
  payloadStart: number;
  payloadEnd: number;
  /** Byte offset of the section id (the section header is rewritten with the payload). */
  sectionStart: number;
}

export interface ModuleInfo {
  imports: ImportEntry[];
  exports: ExportEntry[];
  memories: MemoryDecl[];
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const KINDS = ['func', 'table', 'memory', 'global', 'tag'] as const;
const VALTYPES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

export class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array, readonly end = bytes.length) {}

  byte(): number {
    if (this.pos >= this.end) throw new StepLoadError('malformed Wasm binary: unexpected end of data');
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new StepLoadError('malformed Wasm binary: LEB128 integer too long');
  }

  /** Skips a signed or unsigned LEB128 integer of at most `maxBytes` bytes (5 for 32 bits, 10 for 64). */
  skipLeb(maxBytes: number): void {
    for (let n = 0; n < maxBytes; n++) if ((this.byte() & 0x80) === 0) return;
    throw new StepLoadError('malformed Wasm binary: LEB128 integer too long');
  }

  skip(count: number): void {
    if (this.pos + count > this.end) throw new StepLoadError('malformed Wasm binary: unexpected end of data');
    this.pos += count;
  }

  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw new StepLoadError('malformed Wasm binary: name runs past its section');
    const text = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return text;
  }

  valtype(): string {
    const b = this.byte();
    const t = VALTYPES[b];
    if (!t) throw new StepLoadError(`malformed Wasm binary: unknown value type 0x${b.toString(16)}`);
    return t;
  }

  limits(): { min: number; max?: number; flags: number } {
    const flags = this.byte();
    const min = this.u32();
    return flags & 1 ? { flags, min, max: this.u32() } : { flags, min };
  }
}

/** Appends bytes to a growing buffer; the encoding side of Reader. */
export class ByteWriter {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): this {
    this.room(1);
    this.buf[this.length++] = b;
    return this;
  }

  bytes(data: ArrayLike<number>): this {
    this.room(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
    return this;
  }

  u32(value: number): this {
    do {
      let b = value % 128;
      value = Math.floor(value / 128);
      if (value > 0) b |= 0x80;
      this.byte(b);
    } while (value > 0);
    return this;
  }

  /** Signed LEB128 (i32.const immediates). */
  s32(value: number): this {
    for (;;) {
      const b = value & 0x7f;
      value >>= 7;
      if ((value === 0 && (b & 0x40) === 0) || (value === -1 && (b & 0x40) !== 0)) return this.byte(b);
      this.byte(b | 0x80);
    }
  }

  name(text: string): this {
    const utf8 = new TextEncoder().encode(text);
    return this.u32(utf8.length).bytes(utf8);
  }

  /** A section: id, payload length, payload. */
  section(id: number, payload: ByteWriter): this {
    return this.byte(id).u32(payload.length).bytes(payload.result());
  }

  /** A view of the bytes written (valid until the next write). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** The bytes written, in a buffer of their own (for callers that use `.buffer`, or transfer it). */
  take(): Uint8Array {
    return this.length === this.buf.length ? this.buf : this.buf.slice(0, this.length);
  }
}

export interface Section {
  id: number;
  /** Byte offset of the section id. */
  sectionStart: number;
  /** Byte range of the payload. */
  start: number;
  end: number;
}

/** Checks the header and lists the sections in file order. */
export function sections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new StepLoadError(`not a WebAssembly module: the file does not start with the Wasm magic bytes "\\0asm" (${bytes.length} bytes)`);
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new StepLoadError('unsupported Wasm binary version (expected version 1)');
  }
  const r = new Reader(bytes);
  r.pos = 8;
  const list: Section[] = [];
  while (r.pos < bytes.length) {
    const sectionStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw new StepLoadError(`malformed Wasm binary: section ${id} runs past the end of the file (truncated?)`);
    list.push({ id, sectionStart, start, end });
    r.pos = end;
  }
  return list;
}

/** A reader over one section's payload. */
export function sectionReader(bytes: Uint8Array, section: Section): Reader {
  const r = new Reader(bytes, section.end);
  r.pos = section.start;
  return r;
}

/** Reads imports (with signatures), exports (with signatures for functions) and memory declarations. */
export function inspectModule(bytes: Uint8Array): ModuleInfo {
  const types: FuncType[] = [];
  const funcTypes: number[] = []; // type index per function, imports first (Wasm index space)
  const info: ModuleInfo = { imports: [], exports: [], memories: [] };
  const exportIdx: { name: string; kind: ExportEntry['kind']; index: number }[] = [];
  for (const section of sections(bytes)) {
    const { id, start, end, sectionStart } = section;
    const s = sectionReader(bytes, section);
    if (id === 1) {
      for (let n = s.u32(); n > 0; n--) {
        if (s.byte() !== 0x60) throw new StepLoadError('malformed Wasm binary: bad function type');
        const params = Array.from({ length: s.u32() }, () => s.valtype());
        const results = Array.from({ length: s.u32() }, () => s.valtype());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = s.u32(); n > 0; n--) {
        const module = s.name();
        const name = s.name();
        const kindByte = s.byte();
        const kind = KINDS[kindByte];
        if (!kind) throw new StepLoadError(`malformed Wasm binary: unknown import kind ${kindByte}`);
        if (kind === 'func') {
          const typeIndex = s.u32();
          funcTypes.push(typeIndex);
          info.imports.push({ module, name, kind, type: types[typeIndex] });
        } else {
          // Foreign imports are rejected by name later; skip their descriptors exactly.
          if (kind === 'table') s.byte(), s.limits();
          else if (kind === 'memory') s.limits();
          else if (kind === 'global') s.valtype(), s.byte();
          else s.byte(), s.u32();
          info.imports.push({ module, name, kind });
        }
      }
    } else if (id === 3) {
      for (let n = s.u32(); n > 0; n--) funcTypes.push(s.u32());
    } else if (id === 5) {
      for (let n = s.u32(); n > 0; n--) {
        const { flags, min, max } = s.limits();
        if (flags & ~1) throw new StepLoadError('unsupported memory: shared or 64-bit memories are not part of step ABI 1');
        info.memories.push({ min, max, payloadStart: start, payloadEnd: end, sectionStart });
      }
    } else if (id === 7) {
      for (let n = s.u32(); n > 0; n--) {
        const name = s.name();
        const kind = KINDS[s.byte()] ?? 'tag';
        exportIdx.push({ name, kind, index: s.u32() });
      }
    }
  }
  info.exports = exportIdx.map(({ name, kind, index }) => (kind === 'func' ? { name, kind, type: types[funcTypes[index]] } : { name, kind }));
  return info;
}

/**
 * Returns the module with its (single) memory's maximum lowered to `maxPages`, so that `memory.grow` past the
 * manifest limit fails inside the engine (ABI: growth beyond the limit returns -1) instead of being noticed late.
 */
export function capMemory(bytes: Uint8Array, memory: MemoryDecl, maxPages: number): Uint8Array {
  if (memory.max !== undefined && memory.max <= maxPages) return bytes;
  const payload = new ByteWriter(16).u32(1).byte(0x01).u32(memory.min).u32(maxPages);
  return new ByteWriter(bytes.length + 16)
    .bytes(bytes.subarray(0, memory.sectionStart))
    .section(0x05, payload)
    .bytes(bytes.subarray(memory.payloadEnd))
    .take();
}
