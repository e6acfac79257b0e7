import type { ChildHealth } from '../../shared/messages.js';
import type { StepLogLevel } from '../../shared/step-abi.js';
import { isCleanExit, type SupervisorEvent } from '../../shared/supervisor-events.js';
import type { StartChildCommand, SupervisorSpec, TerminateChildCommand, WorkerChild } from '../../shared/supervisor-spec.js';
import { topicMatches } from '../../shared/topics.js';
import { StepInputError, StepStartError, type LoadedStep, type StepHandle, type StepRuntime } from '../runtime/index.js';
import { SupervisorCore, type Clock, type Decision } from './core.js';
import { EventLog, type LoggedEvent } from './event-log.js';
import { RestartBuffer } from './restart-buffer.js';
import { wire, type Wiring } from './wiring.js';

/**
 * Drives real step instances from the decisions of the pure SupervisorCore: starts and stops StepHandles, runs the
 * shutdown timers, buffers messages for children that are (re)starting, carries `{from: sibling}` pipelines, and
 * keeps the recent events and per-child counters for health. MQTT is the caller's: it feeds inputs (`deliver`,
 * `deliverTopic`, ticks for `cronInputs`) and publishes what `onOutput` hands it.
 */

export interface RunnerOptions {
  runtime: Pick<StepRuntime, 'start'>;
  /** The loaded module for a `name@version` step reference (the agent's step store; cached by the runtime). */
  resolveStep(ref: string): Promise<LoadedStep>;
  /** A worker with an `output` emitted `payload`; `topic` is the spec's output as written (relative or `/`-absolute). */
  onOutput?(path: string, topic: string, payload: Uint8Array): void;
  /** Every supervisor event, as it is logged. */
  onEvent?(entry: LoggedEvent): void;
  /** A worker's `flotilla.log` line (its last warn or error line also ends up in its abnormal exit reason). */
  onLog?(path: string, level: StepLogLevel, message: string): void;
  /** Messages kept per child while it (re)starts. Default 1000. */
  restartBufferSize?: number;
  /** Recent events kept. Default 1000. */
  eventLogSize?: number;
  /** Monotonic clock for restart intensity. Default `performance.now()`. */
  clock?: Clock;
  /** Wall clock for event timestamps. Default `Date.now()`. */
  now?(): number;
}

/** One incarnation of a worker: a start in flight, then its handle. Callbacks of a replaced slot are ignored. */
interface Slot {
  handle?: StepHandle;
  /** This incarnation's last warn or error line: why it failed, in its own words. */
  problem?: string;
}

/** How much of a step's last warn/error line an exit reason carries. */
const REASON_LINE_MAX_CHARS = 300;

/** An abnormal exit reason with the step's last warn/error line appended (`start_failed:init returned 2: <line>`). */
export function withLastLine(reason: string, line: string | undefined): string {
  if (line === undefined || isCleanExit(reason)) return reason;
  const flat = line.replace(/\s+/g, ' ').trim();
  if (!flat) return reason;
  return `${reason}: ${flat.length > REASON_LINE_MAX_CHARS ? `${flat.slice(0, REASON_LINE_MAX_CHARS - 1)}…` : flat}`;
}

interface Counters {
  in: number;
  out: number;
  dropped: number;
}

type Waiter = (events: SupervisorEvent[]) => boolean;

export class SupervisorRunner {
  private readonly core: SupervisorCore;
  private readonly options: RunnerOptions;
  private readonly log: EventLog;
  private readonly slots = new Map<string, Slot>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly buffers = new Map<string, RestartBuffer>();
  private readonly counters = new Map<string, Counters>();
  private readonly waiters = new Set<Waiter>();
  private wiring: Wiring | null = null;

  constructor(spec: SupervisorSpec, options: RunnerOptions) {
    this.options = options;
    this.log = new EventLog(options.eventLogSize ?? 1000);
    this.core = new SupervisorCore(spec, { clock: options.clock ?? { nowMs: () => performance.now() } });
  }

  get status(): SupervisorCore['status'] {
    return this.core.status;
  }

  get rootPath(): string {
    return this.core.rootPath;
  }

  /** Starts the tree; resolves when every child runs, rejects with the reason if the root's start failed. */
  start(): Promise<void> {
    const root = this.core.rootPath;
    return this.until(() => this.core.start(), (events) => {
      const failed = events.find((e) => e.type === 'supervisor_shutdown' && e.supervisor === root);
      if (failed && failed.type === 'supervisor_shutdown') throw new Error(`supervision tree ${root} failed to start: ${failed.reason}`);
      return this.core.status === 'running';
    });
  }

  /** Stops the tree (children in reverse start order, each by its shutdown value); resolves when it has stopped. */
  stop(): Promise<void> {
    return this.until(() => this.core.stop(), () => this.core.status === 'stopped');
  }

  /** Replaces the spec at run time; only what differs changes (plan.ts). */
  apply(spec: SupervisorSpec): void {
    this.wiring = null;
    this.feed(() => this.core.apply(spec));
    this.relink();
  }

  /** simple_one_for_one: resolves once the new child runs; rejects if the command is refused or its start fails. */
  startChild(command: Omit<StartChildCommand, 'type'>): Promise<void> {
    this.wiring = null;
    return this.until(() => this.core.startChild(command), (events) => {
      for (const e of events) {
        if (e.supervisor !== command.supervisor || !('child' in e) || e.child !== command.child) continue;
        if (e.type === 'child_started') return true;
        if (e.type === 'child_terminated') throw new Error(`start_child ${command.child}: ${e.reason}`);
      }
      return false;
    });
  }

  /** simple_one_for_one: resolves once the child has stopped and is gone. */
  terminateChild(command: Omit<TerminateChildCommand, 'type'>): Promise<void> {
    const path = `${command.supervisor}/${command.child}`;
    return this.until(() => this.core.terminateChild(command), () => this.core.phase(path) === undefined);
  }

  /**
   * One input message for the worker at `path`: pushed to it if it runs, buffered if it is (re)starting (bounded;
   * overflow dropped and counted), else dropped and counted. True if it was pushed or buffered.
   */
  deliver(path: string, payload: Uint8Array): boolean {
    const phase = this.core.phase(path);
    if (phase === undefined) return false;
    const counters = this.countersOf(path);
    const handle = this.slots.get(path)?.handle;
    if (phase === 'running' && handle) {
      try {
        if (handle.push(payload)) {
          counters.in++;
          return true;
        }
      } catch (err) {
        if (!(err instanceof StepInputError)) throw err;
      }
      counters.dropped++;
      return false;
    }
    if (phase === 'starting' || phase === 'restarting') return this.bufferOf(path).add(payload);
    counters.dropped++;
    return false;
  }

  /** A message published on `topic`: delivered to every worker whose input filter matches. Returns how many. */
  deliverTopic(topic: string, payload: Uint8Array): number {
    let n = 0;
    for (const { path, filter } of this.currentWiring().topics) if (topicMatches(filter, topic) && this.deliver(path, payload)) n++;
    return n;
  }

  /** The distinct MQTT topic filters the tree reads: the caller subscribes to these (again after `apply`). */
  topicFilters(): string[] {
    return [...new Set(this.currentWiring().topics.map((t) => t.filter))];
  }

  /** Workers ticked by cron: the caller schedules each expression and `deliver`s a tick payload to the path. */
  cronInputs(): { path: string; cron: string }[] {
    return this.currentWiring().crons;
  }

  /** The most recent supervisor events, oldest first. */
  events(): LoggedEvent[] {
    return this.log.recent();
  }

  /** Per-child state, restart count and message counters, depth first in start order (HealthMessage.children). */
  health(): ChildHealth[] {
    return this.core.snapshot().map((c) => {
      const counters = this.counters.get(c.path);
      const handle = this.slots.get(c.path)?.handle;
      const dropped = (counters?.dropped ?? 0) + (this.buffers.get(c.path)?.dropped ?? 0) + (handle?.stats().dropped ?? 0);
      return {
        ...c,
        ...(c.kind === 'worker' ? { messagesIn: counters?.in ?? 0, messagesOut: counters?.out ?? 0, dropped } : {}),
      };
    });
  }

  // ---- decisions -----------------------------------------------------------------------------------------------

  private feed(input: () => Decision[]): void {
    const events: SupervisorEvent[] = [];
    for (const d of input()) {
      if (d.type === 'event') events.push(d.event);
      this.execute(d);
    }
    for (const e of events) if (e.type === 'child_terminated') this.dropBufferUnlessRestarting(`${e.supervisor}/${e.child}`);
    for (const waiter of this.waiters) if (waiter(events)) this.waiters.delete(waiter);
  }

  /** Feeds `input` and resolves when `done` says so after a later (or this) feed; a throw from `done` rejects. */
  private until(input: () => Decision[], done: Waiter): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = (events) => {
        try {
          if (!done(events)) return false;
          resolve();
        } catch (err) {
          reject(err);
        }
        return true;
      };
      this.waiters.add(waiter);
      try {
        this.feed(input);
      } catch (err) {
        this.waiters.delete(waiter);
        reject(err);
      }
    });
  }

  private execute(d: Decision): void {
    switch (d.type) {
      case 'start': {
        const slot: Slot = {};
        this.slots.set(d.path, slot);
        this.wiring = null;
        void this.launch(d.path, d.child, slot);
        return;
      }
      case 'stop':
        // The core owns the shutdown timer and sends `kill` when it runs out; the runtime only asks the step to stop.
        void this.slots.get(d.path)?.handle?.stop('infinity');
        return;
      case 'kill': {
        const slot = this.slots.get(d.path);
        this.slots.delete(d.path);
        // A kill is final: the slot is gone, so nothing this instance still reports reaches the core.
        if (slot?.handle) {
          void slot.handle.stop('brutal_kill');
          this.retire(d.path, slot.handle);
        }
        return;
      }
      case 'set_timer':
        this.timers.set(
          d.path,
          setTimeout(() => {
            this.timers.delete(d.path);
            this.feed(() => this.core.timerFired(d.path));
          }, d.ms),
        );
        return;
      case 'clear_timer':
        clearTimeout(this.timers.get(d.path));
        this.timers.delete(d.path);
        return;
      case 'swap':
        this.wiring = null;
        void this.swap(d.path, d.child);
        return;
      case 'event': {
        const entry = this.log.add(d.event, (this.options.now ?? Date.now)());
        this.options.onEvent?.(entry);
        return;
      }
    }
  }

  private async launch(path: string, child: WorkerChild, slot: Slot): Promise<void> {
    const current = () => this.slots.get(path) === slot;
    let handle: StepHandle | undefined;
    let initial: Uint8Array[] = [];
    try {
      const step = await this.options.resolveStep(child.step);
      if (!current()) return;
      // Buffered messages go first, in arrival order, before anything delivered from now on: with the start itself.
      initial = this.takeBuffered(path, step.manifest.limits.maxInputBytes);
      handle = await this.options.runtime.start({
        id: path,
        step,
        config: child.config,
        initial,
        host: child.host,
        onOutput: (payload, piped) => current() && this.output(path, payload, piped),
        onPiped: (count, piped) => current() && this.piped(path, count, piped),
        onLog: (level, message) => {
          if (!current()) return;
          if (level === 'warn' || level === 'error') slot.problem = message;
          this.options.onLog?.(path, level, message);
        },
        // Before its first outputs (answered with the start): it is running from here.
        onStarted: (started) => {
          if (!current()) return;
          handle = started;
          slot.handle = started;
          this.feed(() => this.core.started(path));
          // Buffered while the start was under way: still before anything delivered from now on.
          for (const payload of this.buffers.get(path)?.take() ?? []) this.deliver(path, payload);
          this.relink();
        },
        onExit: (reason) => {
          if (!current()) return;
          this.slots.delete(path);
          if (handle) this.retire(path, handle);
          this.feed(() => this.core.exited(path, withLastLine(reason, slot.problem)));
        },
      });
    } catch (err) {
      // Not run: they wait for the next start, if there is one (dropBufferUnlessRestarting counts them otherwise).
      if (initial.length) {
        this.countersOf(path).in -= initial.length;
        this.bufferOf(path).restore(initial);
      }
      if (!current()) return;
      this.slots.delete(path);
      const reason = err instanceof StepStartError ? err.reason : `start_failed:${err instanceof Error ? err.message : String(err)}`;
      this.feed(() => this.core.startFailed(path, withLastLine(reason, slot.problem)));
      return;
    }
    if (slot.handle !== handle) {
      // Replaced while starting (killed): what it was handed is lost with it, as with any killed instance.
      this.countersOf(path).in -= initial.length;
      this.countersOf(path).dropped += initial.length;
      void handle.stop('brutal_kill');
    }
  }

  /** The child's buffered messages for its next start (counted in); those over the step's input limit are dropped. */
  private takeBuffered(path: string, maxInputBytes: number): Uint8Array[] {
    const counters = this.countersOf(path);
    const taken = this.buffers.get(path)?.take() ?? [];
    const fit = taken.filter((payload) => payload.length <= maxInputBytes);
    counters.dropped += taken.length - fit.length;
    counters.in += fit.length;
    return fit;
  }

  private async swap(path: string, child: WorkerChild): Promise<void> {
    const slot = this.slots.get(path);
    const handle = slot?.handle;
    if (!slot || !handle) return;
    try {
      await handle.swap(await this.options.resolveStep(child.step), child.config);
    } catch (err) {
      if (this.slots.get(path) !== slot) return;
      // The spec now names the new step: end the old version so the supervisor restarts the child with the new one.
      this.slots.delete(path);
      void handle.stop('brutal_kill');
      this.retire(path, handle);
      const reason = `start_failed:swap to ${child.step} failed: ${err instanceof Error ? err.message : String(err)}`;
      this.feed(() => this.core.exited(path, reason));
    }
  }

  private output(path: string, payload: Uint8Array, piped: readonly StepHandle[]): void {
    this.countersOf(path).out++;
    const topic = this.currentWiring().specs.get(path)?.output;
    if (topic) this.options.onOutput?.(path, topic, payload);
    for (const consumer of this.currentWiring().consumers.get(path) ?? []) {
      // Handed over inside the step host already (`relink`): counted as delivered, not pushed again.
      if (piped.some((h) => h.id === consumer)) this.countersOf(consumer).in++;
      else this.deliver(consumer, payload);
    }
  }

  /** `count` outputs of `path` handed to each of `piped` in the host (it has no `output` topic): only counted. */
  private piped(path: string, count: number, piped: readonly StepHandle[]): void {
    this.countersOf(path).out += count;
    for (const consumer of piped) this.countersOf(consumer.id).in += count;
  }

  /**
   * `{from}` pipelines whose producer and consumers share a step host pass messages inside it (StepHandle.pipe):
   * each running producer is piped to its running consumers, again whenever a child starts or the spec changes.
   * A consumer that is (re)starting or stopping is not reached that way; its producer's outputs come through
   * `deliver` (buffered while it restarts) as before. Outputs of a producer with no `output` topic whose every
   * consumer runs need not come back at all: they are counted (`piped`).
   */
  private relink(): void {
    const wiring = this.currentWiring();
    for (const [producer, consumers] of wiring.consumers) {
      const handle = this.slots.get(producer)?.handle;
      if (!handle) continue;
      const running = consumers.map((c) => (this.core.phase(c) === 'running' ? this.slots.get(c)?.handle : undefined)).filter((h): h is StepHandle => h !== undefined);
      handle.pipe(running, { outputs: Boolean(wiring.specs.get(producer)?.output) || running.length < consumers.length });
    }
  }

  /** Keeps what a finished instance dropped (messages queued in it when it exited) in the child's count. */
  private retire(path: string, handle: StepHandle): void {
    this.countersOf(path).dropped += handle.stats().dropped;
  }

  private currentWiring(): Wiring {
    this.wiring ??= wire(this.core.workers());
    return this.wiring;
  }

  /** Messages buffered for a child that will not run again are dropped and counted, never kept silently. */
  private dropBufferUnlessRestarting(path: string): void {
    const buffer = this.buffers.get(path);
    const phase = this.core.phase(path);
    if (!buffer || phase === 'starting' || phase === 'restarting') return;
    this.countersOf(path).dropped += buffer.take().length;
    if (phase === undefined) this.buffers.delete(path);
  }

  private countersOf(path: string): Counters {
    let c = this.counters.get(path);
    if (!c) this.counters.set(path, (c = { in: 0, out: 0, dropped: 0 }));
    return c;
  }

  private bufferOf(path: string): RestartBuffer {
    let b = this.buffers.get(path);
    if (!b) this.buffers.set(path, (b = new RestartBuffer(this.options.restartBufferSize ?? 1000)));
    return b;
  }
}
