import type { ResourceLimits } from 'node:worker_threads';
import type { StepManifest } from '../../shared/step-manifest.js';
import { ModuleCache, type LoadedStep } from './load.js';
import { StepInstance, type StartOptions, type StepHandle } from './step-handle.js';

/**
 * V8 limits for each step isolate: bound the agent's memory whatever a step does (its Wasm memory is bounded
 * separately by the manifest's maxMemoryPages).
 */
export const DEFAULT_ISOLATE_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8, stackSizeMb: 4 };

export class StepRuntime {
  private readonly cache = new ModuleCache();

  constructor(private readonly isolateLimits: ResourceLimits = DEFAULT_ISOLATE_LIMITS) {}

  /** Verifies and compiles a module (cached by sha256); throws StepLoadError naming what is wrong. */
  load(bytes: Uint8Array, manifest: StepManifest): Promise<LoadedStep> {
    return this.cache.load(bytes, manifest);
  }

  /** Drops the compiled versions of a module from the cache. */
  forget(sha256: string): void {
    this.cache.forget(sha256);
  }

  /** Starts an isolate and runs `init`; resolves when it succeeded, rejects with StepStartError otherwise. */
  async start(options: StartOptions): Promise<StepHandle> {
    const instance = new StepInstance(options, this.isolateLimits);
    await instance.ready;
    return instance;
  }
}
