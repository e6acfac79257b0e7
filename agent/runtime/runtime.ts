import type { ResourceLimits } from 'node:worker_threads';
import type { StepManifest } from '../../shared/step-manifest.js';
import { IsolatePool, type IsolateStats } from './isolate-pool.js';
import { ModuleCache, type LoadedStep } from './load.js';
import { StepInstance, type StartOptions, type StepHandle } from './step-handle.js';

/**
 * V8 limits for each step isolate: bound the agent's memory whatever a step does (its Wasm memory is bounded
 * separately by the manifest's maxMemoryPages).
 */
export const DEFAULT_ISOLATE_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8, stackSizeMb: 4 };

export interface RuntimeOptions {
  /** V8 limits of each step isolate. Default DEFAULT_ISOLATE_LIMITS. */
  isolateLimits?: ResourceLimits;
  /**
   * Warm isolates kept booted while any step runs, so a (re)start skips spawning a thread. Each costs one idle
   * worker thread's memory. Default 1; 0 spawns an isolate per start.
   */
  spares?: number;
  /** Spares are terminated once no step has run for this many ms. Default 1000. */
  sparesIdleMs?: number;
}

export class StepRuntime {
  private readonly cache = new ModuleCache();
  private readonly pool: IsolatePool;

  constructor(options: RuntimeOptions = {}) {
    const { isolateLimits = DEFAULT_ISOLATE_LIMITS, spares = 1, sparesIdleMs = 1000 } = options;
    if (!Number.isInteger(spares) || spares < 0) throw new RangeError(`spares must be a whole number >= 0, got ${spares}`);
    this.pool = new IsolatePool({ limits: isolateLimits, spares, idleMs: sparesIdleMs });
  }

  /** Verifies and compiles a module (cached by sha256); throws StepLoadError naming what is wrong. */
  load(bytes: Uint8Array, manifest: StepManifest): Promise<LoadedStep> {
    return this.cache.load(bytes, manifest);
  }

  /** Drops the compiled versions of a module from the cache. */
  forget(sha256: string): void {
    this.cache.forget(sha256);
  }

  /** Runs the step in a spare isolate (or a new one) and calls `init`; rejects with StepStartError if that fails. */
  async start(options: StartOptions): Promise<StepHandle> {
    const instance = new StepInstance(options, this.pool.take());
    void instance.exited.then(() => this.pool.release());
    try {
      await instance.ready;
    } finally {
      // Off the start's path: the caller's continuation (a restarted step's buffered messages) runs first.
      setImmediate(() => this.pool.fill());
    }
    return instance;
  }

  /** Isolate counters: spawned, served from a spare or cold, spares held and warm, threads alive. */
  isolates(): IsolateStats {
    return this.pool.stats();
  }

  /** Resolves once the pool holds its spares, booted (at once when it wants none: no step runs, or size 0). */
  sparesReady(): Promise<void> {
    return this.pool.whenWarm();
  }

  /** Terminates the spares and keeps none from now on; running steps are their owners' to stop. */
  stop(): Promise<void> {
    return this.pool.stop();
  }
}
