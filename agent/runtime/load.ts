import { ALLOWED_IMPORTS, REQUIRED_EXPORTS } from '../../shared/step-abi.js';
import { sha256Hex, type StepManifest } from '../../shared/step-manifest.js';
import { StepLoadError } from './errors.js';
import { meter } from './metering/index.js';
import { capMemory, inspectModule, type FuncType, type ModuleInfo } from './wasm-binary.js';

/** A module checked against ABI 1 and its manifest, compiled once; what `StepRuntime.start` and `swap` take. */
export interface LoadedStep {
  readonly module: WebAssembly.Module;
  readonly manifest: StepManifest;
  /**
   * The module was metered at load (docs/step-abi.md, "What the host adds to a module"): its host must supply
   * `flotilla_meter.tick` and set `flotilla_fuel` before each call.
   */
  readonly metered: boolean;
}

export interface LoadOptions {
  /** Rewrite the module with fuel checks before compiling (cached apart from the plain version). Default false. */
  metered?: boolean;
}

const sig = (t: { params: string[]; results: string[] }) => `(${t.params.join(', ')}) -> (${t.results.join(', ')})`;
const same = (a: FuncType | undefined, b: FuncType) => !!a && sig(a) === sig(b);

/** ABI checks on an inspected module; throws a StepLoadError naming the first offending import or export. Pure. */
export function checkAbi(info: ModuleInfo, maxMemoryPages: number): void {
  for (const imp of info.imports) {
    // ABI: a step may import only flotilla.emit/log/now_ms and env.abort; anything else is rejected by name.
    const allowed = ALLOWED_IMPORTS.find((a) => a.module === imp.module && a.name === imp.name);
    if (!allowed || imp.kind !== 'func') {
      throw new StepLoadError(`forbidden import "${imp.module}.${imp.name}" (${imp.kind}): a step may import only ${ALLOWED_IMPORTS.map((a) => `${a.module}.${a.name}`).join(', ')}`);
    }
    if (!same(imp.type, allowed)) {
      throw new StepLoadError(`import "${imp.module}.${imp.name}" has signature ${imp.type ? sig(imp.type) : '?'}, ABI 1 requires ${sig(allowed)}`);
    }
  }
  const memory = info.exports.find((e) => e.name === 'memory');
  if (!memory || memory.kind !== 'memory') throw new StepLoadError('missing export "memory": a step must export its linear memory');
  for (const want of REQUIRED_EXPORTS) {
    const got = info.exports.find((e) => e.name === want.name);
    if (!got) {
      if (want.optional) continue;
      throw new StepLoadError(`missing export "${want.name}": ABI 1 requires ${want.name}${sig(want)}`);
    }
    if (got.kind !== 'func' || !same(got.type, want)) {
      throw new StepLoadError(`export "${want.name}" must be a function ${sig(want)}`);
    }
  }
  if (info.memories.length !== 1) throw new StepLoadError(`a step must define exactly one memory (found ${info.memories.length})`);
  if (info.memories[0].min > maxMemoryPages) {
    throw new StepLoadError(`memory starts at ${info.memories[0].min} pages, over the manifest limit of ${maxMemoryPages} pages`);
  }
}

function verifySha256(bytes: Uint8Array, manifest: StepManifest): void {
  const actual = sha256Hex(bytes);
  if (actual !== manifest.sha256) throw new StepLoadError(`sha256 mismatch: manifest says ${manifest.sha256}, module bytes hash to ${actual}`);
}

/**
 * Checks verified `bytes` against ABI 1, caps the memory at the manifest limit, meters if asked, and compiles.
 * Compilation errors become StepLoadErrors with the engine's message; what the rewriter cannot decode, a
 * MeteringError (a StepLoadError) naming the opcode and offset.
 */
async function compileStep(bytes: Uint8Array, manifest: StepManifest, metered: boolean): Promise<LoadedStep> {
  const info = inspectModule(bytes);
  checkAbi(info, manifest.limits.maxMemoryPages);
  // Metered first, so that a MeteringError's byte offset is one in the module as stored.
  const code = metered ? meter(bytes) : bytes;
  const capped = capMemory(code, metered ? inspectModule(code).memories[0] : info.memories[0], manifest.limits.maxMemoryPages);
  try {
    return { module: await WebAssembly.compile(capped), manifest, metered };
  } catch (err) {
    throw new StepLoadError(`invalid Wasm module: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Compiled modules cached by sha256, memory cap and metering, shared by every instance, restart and hot swap of a
 * step (rewriting and compiling are the expensive part; a WebAssembly.Module is cloned to workers without
 * recompiling).
 */
export class ModuleCache {
  private readonly entries = new Map<string, Promise<LoadedStep>>();

  async load(bytes: Uint8Array, manifest: StepManifest, { metered = false }: LoadOptions = {}): Promise<LoadedStep> {
    // Hashing is cheap next to compiling: the bytes are verified on every load, cache hit or not.
    verifySha256(bytes, manifest);
    const key = `${manifest.sha256}/${manifest.limits.maxMemoryPages}${metered ? '/metered' : ''}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = compileStep(bytes, manifest, metered);
      this.entries.set(key, entry);
      entry.catch(() => this.entries.delete(key));
    }
    // The limits other than memory are not baked into the module: hand back this manifest's.
    return entry.then((step) => (step.manifest === manifest ? step : { ...step, manifest }));
  }

  /** Drops every compiled version of `sha256` (after a step is uninstalled). */
  forget(sha256: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(`${sha256}/`)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
