/**
 * The Wasm step runtime: runs step modules (ABI 1, docs/step-abi.md) each in its own worker isolate.
 *
 * Load once, start many:
 *
 *   const runtime = new StepRuntime({ spares: 1 });          // one per agent: compiled-module cache, isolate pool
 *   const store = new StepStore(dataDir);                    // <dataDir>/steps/<sha256>.wasm + .json
 *   const { bytes, manifest } = await store.get(sha256);     // StepNotFoundError | StepCorruptError (refetch, put)
 *   const step = await runtime.load(bytes, manifest);        // StepLoadError: not Wasm, bad import/export, ...
 *   const handle = await runtime.start({ id, step, config, onOutput, onLog, onExit });
 *
 * `runtime.start(options): Promise<StepHandle>` resolves only after the module was instantiated and its `init`
 * returned 0. Otherwise it rejects with a StepStartError whose `reason` is `start_failed:<message>` (also the
 * value of `handle.exited`; `onExit` is not called for a step that never started).
 *
 * Warm spares (`RuntimeOptions.spares`, default 1; `isolate-pool.ts`): spawning a worker thread is most of a step
 * start (≈25 ms on a 2-core box); a spare is a thread spawned ahead that has booted the isolate body and warmed up
 * on an empty module, so a start (a supervisor's restart) only sends it the cached module: about 0.5 ms. A start
 * takes a spare if one is held, else spawns; the pool refills after the start has resolved, off its path. Spares
 * are kept only while a step runs (none before the first start; terminated `sparesIdleMs`, default 1000, after the
 * last step exits) and never keep the process alive. Isolation is unchanged: a spare never ran a step, and an
 * isolate that ran one (crashed, killed or stopped) is never handed out again. The trade-off is memory: each spare
 * is one idle worker thread, about 7 MB of RSS (bench/README.md); `spares: 0` spawns per start (restarts ≈25 ms).
 * `runtime.isolates()` counts spawned threads, starts served from a spare or cold, spares held and warm, and
 * threads alive; `sparesReady()` resolves once the pool is full and warm; `stop()` terminates the spares and keeps
 * none from then on (running steps are their owners' to stop).
 *
 * StepHandle:
 * - `push(payload: Uint8Array): boolean` — queues one input message (copied at once; the caller may reuse the
 *   buffer). Queued messages go to the isolate in micro-batches: whatever is queued travels in one transfer, up to
 *   2048 messages / 1 MiB, with at most two batches in the isolate. Returns false (counted as dropped) when the
 *   queue is full (`maxQueued` messages or `maxQueuedBytes`, default 100,000 / 16 MiB), or the step is stopping
 *   or has exited. Throws StepInputError for a message larger than the manifest's `maxInputBytes`; the step keeps
 *   running.
 * - `onOutput(payload: Uint8Array)` — each output message, in order of emission, delivered batch by batch.
 *   Outputs of the message during which a step fails are discarded (that message did not complete). A step that
 *   is terminated from outside (`timeout`, `killed`) loses the outputs of the whole batch it was working on: they
 *   only leave the isolate with the batch's reply. Those messages count as dropped, not processed.
 * - `onLog(level: 'debug'|'info'|'warn'|'error', message: string)` — the step's `flotilla.log` calls.
 * - `onExit(reason: ExitReason)` / `exited: Promise<ExitReason>` — once each, with the documented string: `normal`,
 *   `shutdown`, `killed`, `timeout`, `output_limit`, `exit:<code>`, `trap:<message>`. `onExit` comes as soon as the
 *   step can run no more: at once when the isolate reported the exit itself (its thread is torn down meanwhile),
 *   after the thread is gone for `timeout` and `killed`. `exited` resolves after the thread is gone, always.
 *   Messages still queued when a step exits are counted in `stats().dropped`.
 * - `stop(shutdown: number | 'brutal_kill' | 'infinity' = 5000): Promise<ExitReason>` — OTP shutdown semantics:
 *   `brutal_kill` terminates at once (`killed`); otherwise messages not yet handed to the isolate are dropped,
 *   the isolate finishes the batches it holds and exits with `shutdown`, or is terminated after `shutdown` ms
 *   (`killed`); `infinity` waits (the time budget still bounds each call). Resolves with the exit reason, which
 *   is whatever ended the step first.
 * - `swap(step: LoadedStep, config?: unknown): Promise<void>` — hot swap between messages: every message pushed
 *   before the call is processed by the old version, every later one by the new, none lost or repeated. The new
 *   version is instantiated and `init`ed in the same isolate; if that fails the promise rejects and the old
 *   version keeps running with its state. The new manifest's limits apply from the swap on (the memory cap is
 *   part of the loaded module).
 * - `stats(): { in, out, processed, queued, dropped }`, `manifest` (the version now running) and `threadId` (the
 *   isolate's worker thread, distinct for every start).
 *
 * Callbacks run on the agent's thread and must not throw.
 */
export { StepRuntime, DEFAULT_ISOLATE_LIMITS, type RuntimeOptions } from './runtime.js';
export type { IsolateStats } from './isolate-pool.js';
export type { StartOptions, StepHandle, StepStats, ShutdownSpec } from './step-handle.js';
export type { LoadedStep } from './load.js';
export { StepStore } from './step-store.js';
export { StepLoadError, StepStartError, StepInputError, StepCorruptError, StepNotFoundError } from './errors.js';
export type { ExitReason, StepLogLevel } from '../../shared/step-abi.js';
export { meter, MeteringError, METER_TICK, METER_FUEL, type MeterOptions } from './metering/index.js';
