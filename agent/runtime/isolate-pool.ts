import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './protocol.js';
import { workerMain } from './worker-main.js';

/**
 * The isolate's program. The prelude lives in a string literal, so no bundler can rename `require` in it; the
 * `__name` stub stands in for the helper esbuild's keepNames option calls inside every function it bundles.
 */
const WORKER_SOURCE = [
  `const { parentPort } = require('node:worker_threads');`,
  `const __name = (target) => target;`,
  `(${workerMain.toString()})(parentPort);`,
].join('\n');

/** The smallest valid module (magic and version only): enough to warm an isolate's module receipt and instantiation. */
let emptyModule: WebAssembly.Module | undefined;

export interface PoolOptions {
  /** V8 limits of every isolate (spares are spawned with them too). */
  limits: ResourceLimits;
  /** Spares kept while at least one step runs. */
  spares: number;
  /** Spares are terminated once no step has run for this long. */
  idleMs: number;
}

export interface IsolateStats {
  /** Worker threads spawned so far, spares included. */
  spawned: number;
  /** Starts that took a pre-spawned isolate (a spare). */
  fromSpare: number;
  /** Starts that spawned their own isolate (no spare held). */
  cold: number;
  /** Spares held now; `warm` of them have booted and warmed up, and wait for their step. */
  spares: number;
  warm: number;
  spareThreadIds: number[];
  /** Worker threads alive now: running steps, spares and isolates still being torn down. */
  threads: number;
}

interface Spare {
  worker: Worker;
  warm: boolean;
  onMessage(msg: FromWorker): void;
  drop(): void;
}

/**
 * Pre-spawned step isolates: spawning a worker thread is most of a step start (≈25 ms); a warmed-up spare receives
 * and instantiates the cached module in under a millisecond. A spare has only booted the isolate body
 * (worker-main.ts) and instantiated an empty module, never a step's; an isolate that ran a step is never handed out
 * again (one step per thread, whatever it did).
 * Spares exist only while steps run: none before the first start, and they go `idleMs` after the last step exits.
 */
export class IsolatePool {
  private readonly spares: Spare[] = [];
  private readonly counts = { spawned: 0, fromSpare: 0, cold: 0, threads: 0 };
  /** Isolates handed out by `take` whose step has not exited yet. */
  private live = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly options: PoolOptions) {}

  /** An isolate for a new step: a spare if one is held, else a freshly spawned one. The caller sends `instantiate`. */
  take(): Worker {
    clearTimeout(this.idleTimer);
    this.live++;
    const spare = this.spares.shift();
    if (!spare) {
      this.counts.cold++;
      return this.spawn();
    }
    this.counts.fromSpare++;
    spare.worker.off('message', spare.onMessage).off('error', spare.drop).off('exit', spare.drop);
    spare.worker.ref(); // a running step keeps the process alive, as a cold-started one does
    return spare.worker;
  }

  /** A step isolate from `take` is gone. With no step left, the spares are terminated after `idleMs`. */
  release(): void {
    if (--this.live > 0 || this.spares.length === 0) return;
    // Not at once: a supervisor restarting the only step takes a spare right after its exit.
    this.idleTimer = setTimeout(() => void this.drain(), this.options.idleMs).unref();
  }

  /** Spawns spares up to the pool size (only while a step runs, and not after `stop`). */
  fill(): void {
    if (this.stopped || this.live === 0) return;
    while (this.spares.length < this.options.spares) this.spares.push(this.spare());
    this.notify();
  }

  /** Fills the pool and resolves once every spare has warmed up (at once when the pool wants none). */
  whenWarm(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.fill();
      this.notify();
    });
  }

  /** Terminates the spares; resolves when their threads are gone. */
  drain(): Promise<void> {
    clearTimeout(this.idleTimer);
    const spares = this.spares.splice(0);
    this.notify();
    return Promise.all(spares.map((s) => s.worker.terminate())).then(() => undefined);
  }

  /** Terminates the spares and keeps none from now on (later starts spawn their own isolate). */
  stop(): Promise<void> {
    this.stopped = true;
    return this.drain();
  }

  stats(): IsolateStats {
    return {
      ...this.counts,
      spares: this.spares.length,
      warm: this.spares.filter((s) => s.warm).length,
      spareThreadIds: this.spares.map((s) => s.worker.threadId),
    };
  }

  private spare(): Spare {
    const worker = this.spawn();
    worker.unref(); // an idle spare never keeps the agent's process alive
    const spare: Spare = {
      worker,
      warm: false,
      onMessage: (msg) => {
        if (msg.t !== 'warmed') return;
        spare.warm = true;
        this.notify();
      },
      // A spare that fails before use is dropped; the next start refills the pool.
      drop: () => {
        const i = this.spares.indexOf(spare);
        if (i >= 0) this.spares.splice(i, 1);
        this.notify();
      },
    };
    worker.on('message', spare.onMessage).on('error', spare.drop).on('exit', spare.drop);
    // The first module an isolate receives costs about 1 ms more than later ones: pay that here, not in a restart.
    emptyModule ??= new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    worker.postMessage({ t: 'warm', module: emptyModule } satisfies ToWorker);
    return spare;
  }

  private spawn(): Worker {
    // execArgv: [] — the isolate must not inherit flags such as --input-type=module, which would turn the
    // CommonJS prelude of WORKER_SOURCE into an ES module without `require`.
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: this.options.limits, execArgv: [] });
    this.counts.spawned++;
    this.counts.threads++;
    worker.once('exit', () => this.counts.threads--);
    return worker;
  }

  private notify(): void {
    const settled = this.stopped || this.live === 0 || (this.spares.length >= this.options.spares && this.spares.every((s) => s.warm));
    if (settled) for (const resolve of this.waiters.splice(0)) resolve();
  }
}
