import { LOG_LEVELS, type ExitReason, type StepLogLevel } from '../../shared/step-abi.js';
import type { StepManifest } from '../../shared/step-manifest.js';
import { BatchWriter, unpack } from './batch.js';
import { StepInputError, StepStartError } from './errors.js';
import type { LoadedStep } from './load.js';
import type { FromHost, Packed, ToHost, WorkerLimits } from './protocol.js';
import type { Guest, StepHost } from './host.js';

export type ShutdownSpec = number | 'brutal_kill' | 'infinity';

export interface StartOptions {
  /** Names the instance in errors and logs (the supervisor's child id). */
  id: string;
  /** From `StepRuntime.load` (compiled once, cached). */
  step: LoadedStep;
  /** Passed to `init` as UTF-8 JSON: bytes and strings as they are, other values JSON-encoded, undefined = none. */
  config?: unknown;
  /**
   * Each output message, in order. The view shares its batch's buffer; it is never written again. `piped`: the
   * handles (`StepHandle.pipe`) this output was already handed to inside the host; the caller must not push it to
   * them again.
   */
  onOutput?: (payload: Uint8Array, piped: readonly StepHandle[]) => void;
  /**
   * `count` outputs handed to every handle of a `pipe(to, { outputs: false })` inside the host, and so not
   * delivered to `onOutput` (they still count in `stats().out`).
   */
  onPiped?: (count: number, piped: readonly StepHandle[]) => void;
  onLog?: (level: StepLogLevel, message: string) => void;
  /**
   * Called once `init` returned 0, before any output of the step reaches `onOutput` (a start's first batch is
   * answered with it, in the same turn, ahead of the `start` promise's continuation): the owner records the step as
   * running here.
   */
  onStarted?: (handle: StepHandle) => void;
  /** Called once when a started step exits (not when `start` rejects). */
  onExit?: (reason: ExitReason) => void;
  /**
   * The step host to run in: steps given the same name share one host isolate. Default `default` (one host per
   * agent). An unmetered module always gets a host of its own (nothing could preempt it in a shared one).
   */
  host?: string;
  /** Back-pressure: `push` drops (returns false) while this many messages wait. Default 100,000. */
  maxQueued?: number;
  /** ... or this many bytes wait. Default 16 MiB. */
  maxQueuedBytes?: number;
  /**
   * Messages to process right after `init`, as if pushed then: they travel with the start, so a restarted step's
   * buffered input runs without another round trip. Each must fit the manifest's `maxInputBytes`.
   */
  initial?: Uint8Array[];
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
  /** The worker thread id of the step host it runs in (shared with the other steps of that host). */
  readonly threadId: number;
  /** The manifest of the version now running (changes after a successful `swap`). */
  readonly manifest: StepManifest;
  /** Resolves once, with the exit reason, when no code of this instance runs any more. */
  readonly exited: Promise<ExitReason>;
  push(payload: Uint8Array): boolean;
  /**
   * Hands this step's outputs to `to` inside its host, without crossing to the agent thread (a `{from}` pipeline);
   * replaces the previous list. Handles in another host are left out (the caller pushes to them as before). An
   * output reaches `onOutput` all the same, naming the handles that already got it; a consumer that has exited or
   * is being killed when the output is made does not get it there (it is not named). With `outputs: false`, outputs
   * that every handle of `to` got are only counted (`onPiped`), not delivered.
   */
  pipe(to: readonly StepHandle[], options?: { outputs?: boolean }): void;
  stop(shutdown?: ShutdownSpec): Promise<ExitReason>;
  swap(step: LoadedStep, config?: unknown): Promise<void>;
  stats(): StepStats;
}


/** Batch limits: big enough to amortise a postMessage (~20-80 µs), small enough to keep latency well under 5 ms. */
const MAX_BATCH_MESSAGES = 2048;
const MAX_BATCH_BYTES = 1024 * 1024;
/** Batches handed to the host at once: one running, one ready, so the host never waits on this thread. */
const MAX_IN_FLIGHT = 2;
/**
 * ... unless the oldest has been out this long: the host is busy with another step (a sibling spinning to its
 * budget), and what waits here would otherwise queue behind that sibling's restart and run a budget later. What is
 * in the host counts against `maxQueued`/`maxQueuedBytes`, so this stays bounded.
 */
const STALLED_MS = 2;
const NONE: readonly StepHandle[] = [];
type InFlight = { kind: 'batch'; count: number; bytes: number; at: number } | { kind: 'swap'; step: LoadedStep; at: number; resolve(): void; reject(err: Error): void };

function encodeConfig(config: unknown): Uint8Array {
  if (config === undefined) return new Uint8Array(0);
  if (config instanceof Uint8Array) return config;
  return new TextEncoder().encode(typeof config === 'string' ? config : JSON.stringify(config));
}

function limitsOf(manifest: StepManifest): WorkerLimits {
  return { timeBudgetMs: manifest.limits.timeBudgetMs, maxOutputBytes: manifest.limits.maxOutputBytes };
}

/** The agent-thread side of one step instance in a host: queueing, batching and exit bookkeeping. */
export class StepInstance implements StepHandle, Guest {
  readonly id: string;
  readonly threadId: number;
  manifest: StepManifest;
  readonly exited: Promise<ExitReason>;
  /** Resolves when `init` succeeded; rejects with StepStartError otherwise. */
  readonly ready: Promise<void>;

  private step: LoadedStep;
  /** This instance's id in its host. */
  readonly iid: number;
  private linked = '';
  private pendingLink: { key: string; consumers: StepInstance[]; keep: boolean } | undefined;
  private readonly inFlight: InFlight[] = [];
  private open: BatchWriter;
  private sealed: Packed[] = [];
  private waiting = 0;
  private waitingBytes = 0;
  /** Messages and bytes handed to the host and not answered yet: they count against the queue limits too. */
  private inHost = { messages: 0, bytes: 0 };
  private readonly counts = { in: 0, out: 0, processed: 0, dropped: 0 };
  private flushScheduled = false;
  private starting = true;
  private stopping = false;
  /** Set when the exit is decided; `reported` once the owner heard it (no code of it runs any more). */
  private reason: ExitReason | undefined;
  private reported = false;
  private stopTimer: NodeJS.Timeout | undefined;
  private resolveExit!: (reason: ExitReason) => void;
  private settleReady!: (err?: Error) => void;

  constructor(private readonly options: StartOptions, private readonly host: StepHost) {
    this.id = options.id;
    this.step = options.step;
    this.threadId = host.threadId;
    this.manifest = options.step.manifest;
    this.open = new BatchWriter();
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.ready = new Promise((resolve, reject) => (this.settleReady = (err) => (err ? reject(err) : resolve())));
    this.iid = host.add(this);
    this.post({ t: 'instantiate', i: this.iid, module: this.step.module, config: encodeConfig(options.config), limits: limitsOf(this.manifest) });
    if (options.initial?.length) {
      for (const payload of options.initial) this.push(payload);
      // Right behind the instantiation in the host's queue; if `init` fails the host drops them unrun.
      this.pump(false, true);
    }
  }

  get metered(): boolean {
    return this.step.metered;
  }

  budgetMs(): number {
    return this.manifest.limits.timeBudgetMs;
  }

  push(payload: Uint8Array): boolean {
    if (this.reason || this.stopping) return this.counts.dropped++, false;
    if (payload.length > this.manifest.limits.maxInputBytes) {
      throw new StepInputError(`step ${this.id}: message of ${payload.length} bytes exceeds the step's maxInputBytes of ${this.manifest.limits.maxInputBytes}`);
    }
    const max = this.options.maxQueued ?? 100_000;
    const maxBytes = this.options.maxQueuedBytes ?? 16 * 1024 * 1024;
    if (this.waiting + this.inHost.messages >= max || this.waitingBytes + this.inHost.bytes + payload.length > maxBytes) return this.counts.dropped++, false;
    this.open.add(payload);
    this.waiting++;
    this.waitingBytes += payload.length;
    this.counts.in++;
    if (this.open.count >= MAX_BATCH_MESSAGES || this.open.bytes >= MAX_BATCH_BYTES) {
      this.seal();
      this.pump();
    } else if (!this.flushScheduled && !this.starting && this.hasRoom()) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.pump();
      });
    }
    return true;
  }

  pipe(to: readonly StepHandle[], options: { outputs?: boolean } = {}): void {
    // A host that does not pipe (the agent thread's: no crossing to save) leaves every consumer to the caller.
    const consumers = this.host.pipes ? to.filter((h): h is StepInstance => h instanceof StepInstance && h.host === this.host && h !== this) : [];
    // Outputs may stay in the host only if every consumer named is in it.
    const keep = (options.outputs ?? true) || consumers.length < to.length;
    const key = `${consumers.map((c) => c.iid).join(',')}${keep ? '' : '!'}`;
    if (this.reason || key === (this.pendingLink ? this.pendingLink.key : this.linked)) return;
    this.pendingLink = { key, consumers, keep };
    this.pump();
  }

  /**
   * Order across a link change: outputs made before it must reach a consumer before those handed over in the host
   * after it. So the link waits until none of this step's batches is in the host (their outputs were pushed to the
   * consumers here), the consumers' queues are sent, and only then this step's next batches.
   */
  private linkWhenIdle(): boolean {
    const pending = this.pendingLink;
    if (!pending) return true;
    if (this.inFlight.length > 0) return false;
    for (const c of pending.consumers) c.sendQueued();
    this.pendingLink = undefined;
    this.linked = pending.key;
    this.post({ t: 'link', i: this.iid, to: pending.consumers.map((c) => c.iid), keep: pending.keep });
    return true;
  }

  /** Sends every queued message to the host now (ahead of a producer's link to this step). */
  private sendQueued(): void {
    this.seal();
    this.pump(true, false, true);
  }

  stop(shutdown: ShutdownSpec = 5_000): Promise<ExitReason> {
    if (this.reason) return this.exited;
    if (shutdown === 'brutal_kill') {
      // OTP: brutal_kill terminates the child unconditionally.
      this.kill();
    } else if (!this.stopping) {
      // OTP: shutdown timeout — ask the child to exit (it finishes the batches it holds), kill it if it does not in time.
      this.stopping = true;
      this.dropWaiting();
      this.post({ t: 'stop', i: this.iid });
      if (shutdown !== 'infinity') this.stopTimer = setTimeout(() => this.kill(), shutdown);
    }
    return this.exited;
  }

  swap(step: LoadedStep, config?: unknown): Promise<void> {
    if (this.reason || this.stopping || this.starting) return Promise.reject(new Error(`step ${this.id} is not running; cannot swap`));
    // Its caller restarts it instead, in a host that takes the new version.
    if (!this.host.accepts(step)) return Promise.reject(new Error(`step ${this.id}: ${step.manifest.name}@${step.manifest.version} cannot run in this step host (metered: ${step.metered}, budget ${step.manifest.limits.timeBudgetMs} ms)`));
    return new Promise((resolve, reject) => {
      // Everything pushed before the swap goes to the old version, everything after to the new: seal and send now.
      this.seal();
      this.pump(true);
      this.inFlight.push({ kind: 'swap', step, at: performance.now(), resolve, reject });
      this.post({ t: 'swap', i: this.iid, module: step.module, config: encodeConfig(config), limits: limitsOf(step.manifest) });
    });
  }

  stats(): StepStats {
    return { ...this.counts, queued: this.waiting + this.inHost.messages };
  }

  onMessage(msg: Exclude<FromHost, { t: 'chain' }>): void {
    if (msg.t === 'dropped') return this.report();
    if (msg.t === 'piped') this.counts.in += msg.count;
    if (this.reason) {
      if (msg.t === 'piped') this.counts.dropped += msg.count; // handed over in the host as this end was decided
      return;
    }
    if (msg.t === 'stopped') return this.exit('shutdown');
    this.deliver(msg.out, msg.logs, msg.t === 'done' || msg.t === 'piped' ? msg.fwd : undefined);
    if (msg.t === 'piped') {
      // A batch handed over in the host: it never waited here, so only the counts change.
      this.counts.processed += msg.processed;
      if (msg.exit) {
        this.counts.dropped += msg.count - msg.processed;
        this.exit(msg.exit);
      }
      return;
    }
    if (msg.t === 'ready') {
      this.starting = false;
      this.options.onStarted?.(this);
      this.settleReady();
      this.pump();
    } else if (msg.t === 'swapped') {
      const entry = this.inFlight.shift() as Extract<InFlight, { kind: 'swap' }>;
      if (msg.error === undefined) {
        this.step = entry.step;
        this.manifest = entry.step.manifest;
        entry.resolve();
      } else entry.reject(new Error(`swap of step ${this.id} to ${entry.step.manifest.name}@${entry.step.manifest.version} failed, the old version keeps running: ${msg.error}`));
      this.pump();
    } else if (msg.t === 'done' && msg.more !== undefined) {
      // Part of a batch ran (the host yielded at the end of a slice); the rest follows.
      const entry = this.inFlight[0] as Extract<InFlight, { kind: 'batch' }>;
      entry.count -= msg.processed;
      entry.bytes -= msg.more;
      this.inHost.messages -= msg.processed;
      this.inHost.bytes -= msg.more;
      this.counts.processed += msg.processed;
    } else {
      if (!this.starting) {
        const entry = this.inFlight.shift() as Extract<InFlight, { kind: 'batch' }>;
        this.inHost.messages -= entry.count;
        this.inHost.bytes -= entry.bytes;
        this.counts.processed += msg.processed;
        if (msg.exit) this.counts.dropped += entry.count - msg.processed;
      }
      if (msg.exit) this.exit(msg.exit);
      else this.pump();
    }
  }

  onHostGone(reason: ExitReason): void {
    this.decide(reason);
    this.report();
  }

  private seal(): void {
    if (this.open.count === 0) return;
    const { count, bytes } = this.open;
    const { transfer: _, ...packed } = this.open.seal();
    this.sealed.push(packed);
    this.open = new BatchWriter({ count, bytes });
  }

  /**
   * Sends sealed (and, when the host has room, the open) batches; `all` ignores the in-flight cap, `early` the start,
   * `beforeLink` a link of this step's own that waits (linkWhenIdle).
   */
  private pump(all = false, early = false, beforeLink = false): void {
    if (this.reason || (this.starting && !early)) return;
    if (!beforeLink && !this.linkWhenIdle()) return;
    if (this.sealed.length === 0 && this.hasRoom()) this.seal();
    while (this.sealed.length > 0 && (all || this.hasRoom())) {
      const batch = this.sealed.shift()!;
      const bytes = new Uint32Array(batch.lens!, 0, batch.count).reduce((a, b) => a + b, 0);
      this.waiting -= batch.count;
      this.waitingBytes -= bytes;
      this.inHost.messages += batch.count;
      this.inHost.bytes += bytes;
      this.inFlight.push({ kind: 'batch', count: batch.count, bytes, at: performance.now() });
      this.post({ t: 'batch', i: this.iid, ...batch }, [batch.lens!, batch.data!]);
      if (this.sealed.length === 0 && (all || this.hasRoom())) this.seal();
    }
  }

  private hasRoom(): boolean {
    return this.inFlight.length < MAX_IN_FLIGHT || performance.now() - this.inFlight[0].at > STALLED_MS;
  }

  private post(msg: ToHost, transfer: ArrayBuffer[] = []): void {
    this.host.post(msg, transfer);
  }

  private dropWaiting(): void {
    this.counts.dropped += this.waiting;
    this.waiting = this.waitingBytes = 0;
    this.sealed = [];
    this.open = new BatchWriter();
  }

  private deliver(out: Packed, logs: (number | string)[], fwd: number[] | undefined): void {
    const { onLog, onOutput, onPiped } = this.options;
    if (onLog) for (let i = 0; i < logs.length; i += 2) onLog(LOG_LEVELS[logs[i] as number], logs[i + 1] as string);
    this.counts.out += out.count;
    if (out.count === 0) return;
    const piped = fwd ? fwd.map((id) => this.host.guests.get(id)).filter((g): g is StepInstance => g instanceof StepInstance) : NONE;
    if (out.data === null) onPiped?.(out.count, piped);
    else if (onOutput) unpack(out, (payload) => onOutput(payload, piped));
  }

  /** The host reported the instance's own exit: it runs no more code, so its owner hears at once. */
  private exit(reason: ExitReason): void {
    this.decide(reason);
    this.report();
  }

  /** Ended from outside: reported once the host has let go of it (`dropped`) or is gone. */
  private kill(): void {
    if (this.reason) return;
    this.decide('killed');
    this.host.kill(this.iid);
  }

  /** Fixes the exit reason (the first one wins) and settles the queues. */
  private decide(reason: ExitReason): void {
    if (this.reason) return;
    if (this.starting && !reason.startsWith('start_failed:')) {
      reason = reason === 'timeout' ? `start_failed:init exceeded the time budget of ${this.manifest.limits.timeBudgetMs} ms` : `start_failed:${reason.replace(/^trap:/, '')}`;
    }
    this.reason = reason;
    clearTimeout(this.stopTimer);
    this.dropWaiting();
    this.inHost = { messages: 0, bytes: 0 };
    for (const entry of this.inFlight.splice(0)) {
      if (entry.kind === 'batch') this.counts.dropped += entry.count;
      else entry.reject(new Error(`step ${this.id} exited (${reason}) before the swap completed`));
    }
  }

  private report(): void {
    if (this.reported || !this.reason) return;
    this.reported = true;
    this.host.remove(this.iid);
    const reason = this.reason;
    if (this.starting) this.settleReady(new StepStartError(reason));
    else this.options.onExit?.(reason);
    this.resolveExit(reason);
  }
}
