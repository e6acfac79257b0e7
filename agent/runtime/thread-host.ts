import { threadId } from 'node:worker_threads';
import type { ExitReason } from '../../shared/step-abi.js';
import { hostMain } from './host-main.js';
import type { LoadedStep } from './load.js';
import { BACKSTOP_GRACE_MS, Guests, type Guest, type StepHost } from './host.js';
import { sliceGuard, type SliceGuard } from './slice-guard.js';
import { CONTROL_BUSY, CONTROL_CURRENT, CONTROL_KILL, CONTROL_SLOTS, type FromHost, type ToHost } from './protocol.js';

/**
 * How long the host runs before the agent's event loop gets its turn (MQTT, timers), ms. A call under way finishes
 * first: the agent waits at most a slice plus one call (bounded by its budget).
 */
export const SLICE_MS = 5;

/**
 * The longest time budget a step may have to run in the agent's thread, ms: a call blocks the agent (its MQTT, its
 * timers, its other steps) until it returns, and the budget bounds that. Steps allowed longer run in a worker host.
 */
export const THREAD_HOST_MAX_BUDGET_MS = 1_000;

/** One guard for the agent thread's hosts: it is per thread, and so are they (slices never nest). */
let guard: SliceGuard | undefined;

/**
 * The default step host: instances run in the agent's own thread (host-main.ts over an in-process port), so an idle
 * agent keeps no isolate for its steps and a message or a restart crosses no thread. Metered modules with a budget
 * of at most THREAD_HOST_MAX_BUDGET_MS only (`accepts`): their calls end themselves at the budget. While a call
 * runs, the agent's own code waits: a kill or a shutdown timeout lands between two calls. The host runs in slices
 * of SLICE_MS between the agent's own work; a batch longer than that is cut between two messages and goes on in the
 * next slice. `{from}` pipelines are routed by the caller: handing a message to a step here costs no crossing.
 *
 * Backstop: each slice runs under a V8 execution timeout (slice-guard.ts: the call is terminated from another
 * thread) of the slice plus the largest budget plus BACKSTOP_GRACE_MS. Firing means a call that did not tick (a hole in the
 * metering): the stuck step exits `timeout`, the others in the host `killed`, and the host is replaced, as a BEAM
 * node crash would take its processes with it.
 */
export class ThreadHost implements StepHost {
  readonly threadId = threadId;
  readonly pipes = false;
  private readonly control = new Int32Array(CONTROL_SLOTS);
  readonly guests = new Guests();
  private inbox: ToHost[] = [];
  private outbox: FromHost[] = [];
  private handle!: (msg: ToHost) => void;
  private scheduled = false;
  private sliceEnd = 0;
  /** When the agent's event loop last had its turn: back-to-back slices past SLICE_MS yield to it (setImmediate). */
  private stretchStart = 0;
  /**
   * The last slice ran long (a call near its budget): the next waits for the agent's timers too (setTimeout), so
   * that what they would push is queued before a restarted spinner's next call, not behind it.
   */
  private afterLong = false;
  private gone = false;

  constructor(private readonly onGone: () => void) {
    const port = { postMessage: (msg: FromHost) => this.outbox.push(msg), on: (_event: 'message', fn: (msg: ToHost) => void) => (this.handle = fn) };
    const receive = () => {
      const message = this.inbox.shift();
      return message && { message };
    };
    const slices = { due: () => performance.now() >= this.sliceEnd, resume: (msg: ToHost) => this.inbox.unshift(msg) };
    hostMain(port as never, this.control, receive as never, 0, slices);
  }

  static takes(step: LoadedStep): boolean {
    return step.metered && step.manifest.limits.timeBudgetMs <= THREAD_HOST_MAX_BUDGET_MS;
  }

  accepts(step: LoadedStep): boolean {
    return ThreadHost.takes(step);
  }

  add(guest: Guest): number {
    return this.guests.add(guest);
  }

  remove(id: number): void {
    this.guests.delete(id);
  }

  post(msg: ToHost): void {
    if (this.gone) return;
    this.inbox.push(msg);
    this.schedule();
  }

  kill(id: number): void {
    // Nothing of this host runs while the agent's code does: its queued work is simply taken back.
    this.control[CONTROL_KILL] = id;
    this.inbox = this.inbox.filter((m) => m.i !== id);
    this.post({ t: 'drop', i: id });
  }

  /** Nothing of this host runs while the agent's code does: every instance hears `killed`. */
  terminate(): Promise<void> {
    this.die(0, 'killed');
    return Promise.resolve();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.stretchStart === 0) {
      this.stretchStart = performance.now();
      setImmediate(() => (this.stretchStart = 0));
    }
    if (this.afterLong) {
      this.afterLong = false;
      setTimeout(this.run, 0);
    } else if (performance.now() - this.stretchStart < SLICE_MS) queueMicrotask(this.run);
    else setImmediate(this.run);
  }

  private readonly slice = (): void => {
    do this.handle(this.inbox.shift()!);
    while (this.inbox.length > 0 && performance.now() < this.sliceEnd);
  };

  private readonly run = (): void => {
    this.scheduled = false;
    if (this.gone || this.inbox.length === 0) return;
    const start = performance.now();
    this.sliceEnd = start + SLICE_MS;
    guard ??= sliceGuard();
    const outcome = guard.run(this.slice, this.guardMs());
    const stuck = !outcome.ok && this.control[CONTROL_BUSY] === 1 ? this.control[CONTROL_CURRENT] : 0;
    const failure = outcome.ok ? undefined : { stuck, reason: (outcome.timedOut ? 'timeout' : `trap:step host failed: ${outcome.message}`) as ExitReason };
    this.afterLong = performance.now() - start > 2 * SLICE_MS;
    // Replies are delivered outside the guarded slice: what the owners do with them is not step time.
    const replies = this.outbox;
    this.outbox = [];
    for (const msg of replies) this.guests.route(msg);
    if (failure) return this.die(failure.stuck, failure.reason);
    if (this.inbox.length > 0) this.schedule();
  };

  /** The slice's timeout: every call in it starts within SLICE_MS and ends itself within its budget. */
  private guardMs(): number {
    let budget = 0;
    for (const g of this.guests.values()) budget = Math.max(budget, g.budgetMs());
    return SLICE_MS + budget + BACKSTOP_GRACE_MS;
  }

  private die(stuck: number, stuckReason: ExitReason): void {
    if (this.gone) return;
    this.gone = true;
    this.inbox = [];
    this.onGone();
    for (const [id, guest] of this.guests.takeAll()) guest.onHostGone(id === stuck ? stuckReason : 'killed');
  }
}
