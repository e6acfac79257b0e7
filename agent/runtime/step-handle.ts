import type { Worker } from 'node:worker_threads';
import { LOG_LEVELS, type ExitReason, type StepLogLevel } from '../../shared/step-abi.js';
import type { StepManifest } from '../../shared/step-manifest.js';
import { BatchWriter, unpack } from './batch.js';
import { StepInputError, StepStartError } from './errors.js';
import type { LoadedStep } from './load.js';
import { CONTROL_BUSY, CONTROL_CALLS, type FromWorker, type Packed, type ToWorker, type WorkerLimits } from './protocol.js';

export type ShutdownSpec = number | 'brutal_kill' | 'infinity';

export interface StartOptions {
  /** Names the instance in errors and logs (the supervisor's child id). */
  id: string;
  /** From `StepRuntime.load` (compiled once, cached). */
  step: LoadedStep;
  /** Passed to `init` as UTF-8 JSON: bytes and strings as they are, other values JSON-encoded, undefined = none. */
  config?: unknown;
  /** Each output message, in order. The view shares its batch's buffer; it is never written again. */
  onOutput?: (payload: Uint8Array) => void;
  onLog?: (level: StepLogLevel, message: string) => void;
  /** Called once when a started step exits (not when `start` rejects). */
  onExit?: (reason: ExitReason) => void;
  /** Back-pressure: `push` drops (returns false) while this many messages wait. Default 100,000. */
  maxQueued?: number;
  /** ... or this many bytes wait. Default 16 MiB. */
  maxQueuedBytes?: number;
}

export interface StepStats {
  /** Messages accepted by `push`. */
  in: number;
  /** Output messages delivered to `onOutput`. */
  out: number;
  /** Input messages the step finished processing. */
  processed: number;
  /** Accepted messages not yet processed (waiting or in the isolate). */
  queued: number;
  /** Messages refused (queue full, stopping, exited) or lost when the step exited with them queued. */
  dropped: number;
}

/** A running step instance. See agent/runtime/index.ts for the contract. */
export interface StepHandle {
  readonly id: string;
  /** The isolate's worker thread id: each start gets a thread of its own, never one that ran another step. */
  readonly threadId: number;
  /** The manifest of the version now running (changes after a successful `swap`). */
  readonly manifest: StepManifest;
  /** Resolves once, with the exit reason, after the isolate is gone. */
  readonly exited: Promise<ExitReason>;
  push(payload: Uint8Array): boolean;
  stop(shutdown?: ShutdownSpec): Promise<ExitReason>;
  swap(step: LoadedStep, config?: unknown): Promise<void>;
  stats(): StepStats;
}

/** Batch limits: big enough to amortise a postMessage (~20-80 µs), small enough to keep latency well under 5 ms. */
const MAX_BATCH_MESSAGES = 2048;
const MAX_BATCH_BYTES = 1024 * 1024;
/** Batches handed to the isolate at once: one running, one ready, so the worker never waits on this thread. */
const MAX_IN_FLIGHT = 2;
type InFlight = { kind: 'batch'; count: number } | { kind: 'swap'; step: LoadedStep; resolve(): void; reject(err: Error): void };

function encodeConfig(config: unknown): Uint8Array {
  if (config === undefined) return new Uint8Array(0);
  if (config instanceof Uint8Array) return config;
  return new TextEncoder().encode(typeof config === 'string' ? config : JSON.stringify(config));
}

function limitsOf(manifest: StepManifest): WorkerLimits {
  return { timeBudgetMs: manifest.limits.timeBudgetMs, maxOutputBytes: manifest.limits.maxOutputBytes };
}

/** The agent-thread side of one step isolate: queueing, batching, the time-budget watchdog and exit bookkeeping. */
export class StepInstance implements StepHandle {
  readonly id: string;
  readonly threadId: number;
  manifest: StepManifest;
  readonly exited: Promise<ExitReason>;
  /** Resolves when `init` succeeded; rejects with StepStartError otherwise. */
  readonly ready: Promise<void>;

  private readonly control: Int32Array;
  private readonly inFlight: InFlight[] = [];
  private open: BatchWriter;
  private sealed: Packed[] = [];
  private waiting = 0;
  private waitingBytes = 0;
  private readonly counts = { in: 0, out: 0, processed: 0, dropped: 0 };
  private flushScheduled = false;
  private starting = true;
  private stopping = false;
  private reason: ExitReason | undefined;
  private workerError: string | undefined;
  private watchdog: NodeJS.Timeout;
  private stopTimer: NodeJS.Timeout | undefined;
  private resolveExit!: (reason: ExitReason) => void;
  private settleReady!: (err?: Error) => void;

  /** `worker` runs worker-main.ts and has not been given a step yet (fresh or a spare from the pool). */
  constructor(private readonly options: StartOptions, private readonly worker: Worker) {
    this.id = options.id;
    this.threadId = worker.threadId;
    this.manifest = options.step.manifest;
    this.open = new BatchWriter();
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.ready = new Promise((resolve, reject) => (this.settleReady = (err) => (err ? reject(err) : resolve())));
    const control = new SharedArrayBuffer(8);
    this.control = new Int32Array(control);
    this.post({ t: 'instantiate', module: options.step.module, config: encodeConfig(options.config), limits: limitsOf(this.manifest), control });
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    this.worker.on('error', (err) => (this.workerError = err.message));
    this.worker.on('exit', (code) => this.finish(this.workerError ? `trap:${this.workerError}` : `trap:step isolate exited unexpectedly (code ${code})`));
    this.watchdog = this.startWatchdog();
  }

  push(payload: Uint8Array): boolean {
    if (this.reason || this.stopping) return this.counts.dropped++, false;
    if (payload.length > this.manifest.limits.maxInputBytes) {
      throw new StepInputError(`step ${this.id}: message of ${payload.length} bytes exceeds the step's maxInputBytes of ${this.manifest.limits.maxInputBytes}`);
    }
    const max = this.options.maxQueued ?? 100_000;
    const maxBytes = this.options.maxQueuedBytes ?? 16 * 1024 * 1024;
    if (this.waiting >= max || this.waitingBytes + payload.length > maxBytes) return this.counts.dropped++, false;
    this.open.add(payload);
    this.waiting++;
    this.waitingBytes += payload.length;
    this.counts.in++;
    if (this.open.count >= MAX_BATCH_MESSAGES || this.open.bytes >= MAX_BATCH_BYTES) {
      this.seal();
      this.pump();
    } else if (!this.flushScheduled && !this.starting && this.inFlight.length < MAX_IN_FLIGHT) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.pump();
      });
    }
    return true;
  }

  stop(shutdown: ShutdownSpec = 5_000): Promise<ExitReason> {
    if (this.reason) return this.exited;
    if (shutdown === 'brutal_kill') {
      // OTP: brutal_kill terminates the child unconditionally.
      this.finish('killed');
    } else if (!this.stopping) {
      // OTP: shutdown timeout — ask the child to exit (it finishes the batch it holds), kill it if it does not in time.
      this.stopping = true;
      this.dropWaiting();
      this.post({ t: 'stop' });
      if (shutdown !== 'infinity') this.stopTimer = setTimeout(() => this.finish('killed'), shutdown);
    }
    return this.exited;
  }

  swap(step: LoadedStep, config?: unknown): Promise<void> {
    if (this.reason || this.stopping || this.starting) return Promise.reject(new Error(`step ${this.id} is not running; cannot swap`));
    return new Promise((resolve, reject) => {
      // Everything pushed before the swap goes to the old version, everything after to the new: seal and send now.
      this.seal();
      this.pump(true);
      this.inFlight.push({ kind: 'swap', step, resolve, reject });
      this.post({ t: 'swap', module: step.module, config: encodeConfig(config), limits: limitsOf(step.manifest) });
    });
  }

  stats(): StepStats {
    const inIsolate = this.inFlight.reduce((n, f) => n + (f.kind === 'batch' ? f.count : 0), 0);
    return { ...this.counts, queued: this.waiting + inIsolate };
  }

  private seal(): void {
    if (this.open.count === 0) return;
    const { count, bytes } = this.open;
    const { transfer: _, ...packed } = this.open.seal();
    this.sealed.push(packed);
    this.open = new BatchWriter({ count, bytes });
  }

  /** Sends sealed (and, when the isolate has room, the open) batches; `all` ignores the in-flight cap. */
  private pump(all = false): void {
    if (this.reason || this.starting) return;
    if (this.sealed.length === 0 && this.inFlight.length < MAX_IN_FLIGHT) this.seal();
    while (this.sealed.length > 0 && (all || this.inFlight.length < MAX_IN_FLIGHT)) {
      const batch = this.sealed.shift()!;
      this.waiting -= batch.count;
      this.waitingBytes -= new Uint32Array(batch.lens!, 0, batch.count).reduce((a, b) => a + b, 0);
      this.inFlight.push({ kind: 'batch', count: batch.count });
      this.post({ t: 'batch', ...batch }, [batch.lens!, batch.data!]);
      if (this.sealed.length === 0 && (all || this.inFlight.length < MAX_IN_FLIGHT)) this.seal();
    }
  }

  private post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  private dropWaiting(): void {
    this.counts.dropped += this.waiting;
    this.waiting = this.waitingBytes = 0;
    this.sealed = [];
    this.open = new BatchWriter();
  }

  private onMessage(msg: FromWorker): void {
    if (this.reason || msg.t === 'warmed') return; // `warmed`: a spare taken before it had finished warming up
    if (msg.t === 'stopped') return this.finish('shutdown');
    this.deliver(msg.out, msg.logs);
    if (msg.t === 'ready') {
      this.starting = false;
      this.settleReady();
      this.pump();
    } else if (msg.t === 'swapped') {
      const entry = this.inFlight.shift() as Extract<InFlight, { kind: 'swap' }>;
      if (msg.error === undefined) {
        this.manifest = entry.step.manifest;
        entry.resolve();
      } else entry.reject(new Error(`swap of step ${this.id} to ${entry.step.manifest.name}@${entry.step.manifest.version} failed, the old version keeps running: ${msg.error}`));
      this.pump();
    } else {
      if (!this.starting) {
        const entry = this.inFlight.shift() as Extract<InFlight, { kind: 'batch' }>;
        this.counts.processed += msg.processed;
        if (msg.exit) this.counts.dropped += entry.count - msg.processed;
      }
      if (msg.exit) this.finish(msg.exit);
      else this.pump();
    }
  }

  private deliver(out: Packed, logs: (number | string)[]): void {
    const { onLog, onOutput } = this.options;
    if (onLog) for (let i = 0; i < logs.length; i += 2) onLog(LOG_LEVELS[logs[i] as number], logs[i + 1] as string);
    this.counts.out += out.count;
    if (onOutput) unpack(out, onOutput);
  }

  /** ABI: a call running longer than timeBudgetMs ends the step with `timeout`. The isolate bumps CALLS per call. */
  private startWatchdog(): NodeJS.Timeout {
    let seen = -1;
    let since = 0;
    const budget = () => this.manifest.limits.timeBudgetMs;
    const timer = setInterval(() => {
      const calls = Atomics.load(this.control, CONTROL_CALLS);
      if (Atomics.load(this.control, CONTROL_BUSY) === 0 || calls !== seen) {
        [seen, since] = [calls, Date.now()];
      } else if (Date.now() - since >= budget()) {
        // `since` is when this call was first seen running, so it has run at least the budget.
        this.finish('timeout');
      }
    }, Math.max(5, Math.min(100, Math.floor(this.manifest.limits.timeBudgetMs / 10))));
    timer.unref();
    return timer;
  }

  private finish(reason: ExitReason): void {
    if (this.reason) return;
    // Ended from outside, the step may still be running code until its thread is terminated.
    const endedOutside = reason === 'killed' || reason === 'timeout';
    const wasStarting = this.starting;
    if (wasStarting && !reason.startsWith('start_failed:')) {
      reason = reason === 'timeout' ? `start_failed:init exceeded the time budget of ${this.manifest.limits.timeBudgetMs} ms` : `start_failed:${reason.replace(/^trap:/, '')}`;
    }
    this.reason = reason;
    clearInterval(this.watchdog);
    clearTimeout(this.stopTimer);
    this.dropWaiting();
    for (const entry of this.inFlight.splice(0)) {
      if (entry.kind === 'batch') this.counts.dropped += entry.count;
      else entry.reject(new Error(`step ${this.id} exited (${reason}) before the swap completed`));
    }
    const gone = this.worker.terminate();
    const report = () => (wasStarting ? this.settleReady(new StepStartError(reason)) : this.options.onExit?.(reason));
    // An isolate that reported its own exit runs no more step code: its owner hears now (a supervisor restarts at
    // once) and the thread is torn down meanwhile. One ended from outside is reported once its thread is gone.
    if (endedOutside) void gone.then(report);
    else report();
    void gone.then(() => this.resolveExit(reason));
  }
}
