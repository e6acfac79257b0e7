import type { ResourceLimits } from 'node:worker_threads';
import type { StepManifest } from '../../shared/step-manifest.js';
import { ModuleCache, type LoadedStep } from './load.js';
import { StepInstance, type StartOptions, type StepHandle } from './step-handle.js';
import type { StepHost } from './host.js';
import { ThreadHost } from './thread-host.js';
import { WorkerHost } from './worker-host.js';

/**
 * V8 limits for each step host isolate: bound the agent's memory whatever its steps do (their Wasm memories are
 * bounded separately by each manifest's maxMemoryPages).
 */
export const DEFAULT_ISOLATE_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8, stackSizeMb: 4 };

export const DEFAULT_HOST = 'default';

export interface RuntimeOptions {
  /** V8 limits of each host isolate. Default DEFAULT_ISOLATE_LIMITS. */
  isolateLimits?: ResourceLimits;
  /** A host with no step left is terminated after this many ms (a restart in between reuses it). Default 1000. */
  hostIdleMs?: number;
  /**
   * Run the default host's steps in the agent's own thread (thread-host.ts). Default true; false gives the default
   * host a worker isolate like the named ones (the agent thread then never runs step code).
   */
  inThread?: boolean;
  /**
   * Meter modules at load (agent/runtime/metering), so steps share hosts and are preempted at their budget.
   * Default true; false runs them unmetered, each in a host of its own (ended only by the backstop watchdog).
   */
  metering?: boolean;
}

/** Counters of the step hosts: worker threads spawned so far, hosts alive (the agent thread's too), step instances in them. */
export interface HostStats {
  spawned: number;
  hosts: number;
  instances: number;
}

export class StepRuntime {
  private readonly cache = new ModuleCache();
  private readonly metering: boolean;
  private readonly limits: ResourceLimits;
  private readonly idleMs: number;
  private readonly inThread: boolean;
  /** Shared hosts by name; hosts of their own (unmetered steps) are not in here. */
  private readonly named = new Map<string, StepHost>();
  /** Hosts of their own whose step has exited: the next unmetered start (a restart) runs there, no thread spawned. */
  private readonly vacant = new Set<WorkerHost>();
  /** The default host in the agent's own thread, for the steps it accepts (the others use a `default` worker). */
  private thread: ThreadHost | undefined;
  private readonly all = new Set<StepHost>();
  private spawned = 0;

  constructor(options: RuntimeOptions = {}) {
    this.metering = options.metering ?? true;
    this.limits = options.isolateLimits ?? DEFAULT_ISOLATE_LIMITS;
    this.idleMs = options.hostIdleMs ?? 1000;
    this.inThread = options.inThread ?? true;
  }

  /** Verifies, meters and compiles a module (cached by sha256); throws StepLoadError naming what is wrong. */
  load(bytes: Uint8Array, manifest: StepManifest): Promise<LoadedStep> {
    return this.cache.load(bytes, manifest, { metered: this.metering });
  }

  /** Drops the compiled versions of a module from the cache. */
  forget(sha256: string): void {
    this.cache.forget(sha256);
  }

  /** A new instance of the step in its host (spawned if needed) with `init` run; rejects with StepStartError if that fails. */
  async start(options: StartOptions): Promise<StepHandle> {
    const instance = new StepInstance(options, this.hostFor(options.step, options.host ?? DEFAULT_HOST));
    await instance.ready;
    return instance;
  }

  hosts(): HostStats {
    let instances = 0;
    for (const h of this.all) instances += h.guests.size;
    return { spawned: this.spawned, hosts: this.all.size, instances };
  }

  /** Terminates every host now; the steps still in them exit with `killed`. */
  async stop(): Promise<void> {
    await Promise.all([...this.all].map((h) => h.terminate()));
  }

  private hostFor(step: LoadedStep, name: string): StepHost {
    // Isolation: an unmetered call can only be ended with its thread, so it must not share one.
    if (!step.metered) {
      const [reuse] = this.vacant;
      if (!reuse) return this.spawn();
      this.vacant.delete(reuse);
      return reuse;
    }
    if (name === DEFAULT_HOST && this.inThread && ThreadHost.takes(step)) return this.thread ?? this.agentThread();
    let host = this.named.get(name);
    if (!host) this.named.set(name, (host = this.spawn(name)));
    return host;
  }

  private agentThread(): ThreadHost {
    const host: ThreadHost = new ThreadHost(() => {
      this.all.delete(host);
      if (this.thread === host) this.thread = undefined;
    });
    this.all.add(host);
    return (this.thread = host);
  }

  private spawn(name?: string): WorkerHost {
    const forget = () => {
      this.all.delete(host);
      this.vacant.delete(host);
      if (name !== undefined && this.named.get(name) === host) this.named.delete(name);
    };
    const onEmpty = () => name === undefined && this.vacant.add(host);
    const host: WorkerHost = new WorkerHost(this.limits, { ms: this.idleMs, onEmpty, onGone: forget });
    this.spawned++;
    this.all.add(host);
    return host;
  }
}
