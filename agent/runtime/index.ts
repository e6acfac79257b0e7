/**
 * The Wasm step runtime: runs step modules (ABI 1, docs/step-abi.md) as instances inside step host isolates.
 *
 * Load once, start many:
 *
 *   const runtime = new StepRuntime();                        // one per agent: compiled-module cache, step hosts
 *   const store = new StepStore(dataDir);                    // <dataDir>/steps/<sha256>.wasm + .json
 *   const { bytes, manifest } = await store.get(sha256);     // StepNotFoundError | StepCorruptError (refetch, put)
 *   const step = await runtime.load(bytes, manifest);        // StepLoadError: not Wasm, bad import/export, ...
 *   const handle = await runtime.start({ id, step, config, onOutput, onLog, onExit });
 *
 * `runtime.start(options): Promise<StepHandle>` resolves only after the module was instantiated and its `init`
 * returned 0; `StartOptions.onStarted` is called at that moment, before any output (a start and its first batch are
 * answered together, so outputs can come ahead of the promise's continuation). Otherwise it rejects with a StepStartError whose `reason` is `start_failed:<message>` (also the
 * value of `handle.exited`; `onExit` is not called for a step that never started). `StartOptions.initial` are
 * messages processed right after `init` (sent with the start: a supervisor's restart hands over its buffer so);
 * `StartOptions.host` names the step host (below).
 *
 * Step hosts (`host.ts`; `host-main.ts` is their body): steps run as Wasm instances inside a few hosts, one call at a
 * time per host. The default host is the agent's own thread (`thread-host.ts`): every metered step of an agent whose
 * time budget is at most THREAD_HOST_MAX_BUDGET_MS (1 s) shares it; it runs in slices of 5 ms between the agent's
 * own work, so no isolate and no thread crossing is paid for a step. `StartOptions.host` names a worker-isolate host
 * (`worker-host.ts`); a step with a longer budget runs in a `default` worker host (a call holds up the agent thread
 * until it returns), as do all with `RuntimeOptions.inThread: false`. Each instance has its own linear memory,
 * capped in its module; a start (a supervisor's restart) is a new instance of the cached compiled module in a
 * running host: no thread is spawned. A module is metered at load (agent/runtime/metering;
 * `RuntimeOptions.metering`, default true): it spends fuel and calls `flotilla_meter.tick`, where the host ends a
 * call past its time budget (only that instance exits, `timeout`) or one being killed.
 * Isolation: a trap, an abort, a bad pointer, an output flood or a timeout ends only the instance that did it.
 * Backstop: a host stuck in one call past its budget (plus `BACKSTOP_GRACE_MS` when metered) is ended, the agent's
 * thread host by a V8 execution timeout around each slice, a worker host by the agent thread terminating it: the
 * stuck step exits `timeout`, the others in that host `killed`. An unmetered module could only be ended that way, so
 * it always runs in a worker host of its own (reused by the next unmetered start once it exited). A worker host with
 * no step left ends after `hostIdleMs` (default 1000) and never keeps the process alive.
 * `runtime.hosts()` counts worker threads spawned, hosts alive and instances; `stop()` ends every host.
 *
 * StepHandle:
 * - `push(payload: Uint8Array): boolean` — queues one input message (copied at once; the caller may reuse the
 *   buffer). Queued messages go to the host in micro-batches: whatever is queued travels in one transfer, up to
 *   2048 messages / 1 MiB, with two batches in the host (more once it has not answered for 2 ms: it is busy with
 *   another step). Returns false (counted as dropped) when the queue is full (`maxQueued` messages or
 *   `maxQueuedBytes` waiting or in the host, default 100,000 / 16 MiB), or the step is stopping
 *   or has exited. Throws StepInputError for a message larger than the manifest's `maxInputBytes`; the step keeps
 *   running.
 * - `pipe(to: StepHandle[])` — a `{from}` pipeline inside the host: this step's outputs are handed to the `to`
 *   steps that share its worker host in the host thread, right after each batch, without crossing to the agent
 *   thread (handles in another host, and every handle in the agent thread's host, are left out: the caller pushes). A link change waits until none of this step's batches is in the host,
 *   so a consumer gets its producer's outputs in order across it. A consumer gone from the host (exited, being
 *   killed) is not handed anything. `pipe(to, { outputs: false })`: outputs that every handle of `to` got stay in
 *   the host; only their count comes back (`onPiped(count, piped)`), for a producer nothing else reads.
 * - `onOutput(payload: Uint8Array, piped: StepHandle[])` — each output message, in order of emission, delivered
 *   batch by batch; `piped` names the handles it was already handed to in the host (the caller does not push it
 *   to them).
 *   Outputs of the message during which a step fails are discarded (that message did not complete). A step that
 *   is terminated from outside (`timeout`, `killed`) loses the outputs of the whole batch it was working on: they
 *   only leave the host with the batch's reply. Those messages count as dropped, not processed.
 * - `onLog(level: 'debug'|'info'|'warn'|'error', message: string)` — the step's `flotilla.log` calls.
 * - `onExit(reason: ExitReason)` / `exited: Promise<ExitReason>` — once each, with the documented string: `normal`,
 *   `shutdown`, `killed`, `timeout`, `output_limit`, `exit:<code>`, `trap:<message>`. `onExit` (and `exited`) come
 *   once no code of the instance runs any more: at once when the host reported the exit itself (including a
 *   metered `timeout`), after the host has let go of it for `killed`, after the host thread is gone when the
 *   backstop ended it.
 *   Messages still queued when a step exits are counted in `stats().dropped`.
 * - `stop(shutdown: number | 'brutal_kill' | 'infinity' = 5000): Promise<ExitReason>` — OTP shutdown semantics:
 *   `brutal_kill` ends the instance at once (`killed`); otherwise messages not yet handed to the host are
 *   dropped, the instance finishes the batches it holds and exits with `shutdown`, or is killed after `shutdown` ms
 *   (`killed`); `infinity` waits (the time budget still bounds each call). Resolves with the exit reason, which
 *   is whatever ended the step first.
 * - `swap(step: LoadedStep, config?: unknown): Promise<void>` — hot swap between messages: every message pushed
 *   before the call is processed by the old version, every later one by the new, none lost or repeated. The new
 *   version is instantiated and `init`ed in the same host; if that fails, or the host does not take the new
 *   version (the agent thread's: unmetered, or a budget over 1 s), the promise rejects and the old version keeps
 *   running with its state. The new manifest's limits apply from the swap on (the memory cap is
 *   part of the loaded module).
 * - `stats(): { in, out, processed, queued, dropped }`, `manifest` (the version now running) and `threadId` (the
 *   thread of its host: the agent's own, or its worker's).
 *
 * Callbacks run on the agent's thread and must not throw.
 */
export { StepRuntime, DEFAULT_ISOLATE_LIMITS, DEFAULT_HOST, type RuntimeOptions, type HostStats } from './runtime.js';
export { BACKSTOP_GRACE_MS } from './host.js';
export { THREAD_HOST_MAX_BUDGET_MS } from './thread-host.js';
export type { StartOptions, StepHandle, StepStats, ShutdownSpec } from './step-handle.js';
export type { LoadedStep } from './load.js';
export { StepStore } from './step-store.js';
export { StepLoadError, StepStartError, StepInputError, StepCorruptError, StepNotFoundError } from './errors.js';
export type { ExitReason, StepLogLevel } from '../../shared/step-abi.js';
export { meter, MeteringError, METER_TICK, METER_FUEL, type MeterOptions } from './metering/index.js';
