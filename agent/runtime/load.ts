import { sha256Hex, type StepManifest } from '../../shared/step-manifest.js';
import { StepLoadError } from './errors.js';
import { meter } from './metering/index.js';
import { checkAbi } from '../../shared/wasm/abi-check.js';
import { capMemory, inspectModule } from '../../shared/wasm/binary.js';

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
