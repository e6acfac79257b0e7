import os from 'node:os';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { ExitReason } from '../../shared/step-abi.js';
import { hostMain } from './host-main.js';
import { BACKSTOP_GRACE_MS, Guests, type Guest, type StepHost } from './host.js';
import { CONTROL_BUSY, CONTROL_CALLS, CONTROL_CURRENT, CONTROL_KILL, CONTROL_SLOTS, type FromHost, type ToHost } from './protocol.js';

/**
 * The host's program. The prelude lives in a string literal, so no bundler can rename `require` in it; the
 * `__name` stub stands in for the helper esbuild's keepNames option calls inside every function it bundles.
 */
const HOST_SOURCE = [
  `const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');`,
  `const __name = (target) => target;`,
  `(${hostMain.toString()})(parentPort, new Int32Array(workerData.control), receiveMessageOnPort, workerData.spinMs);`,
].join('\n');

/**
 * How long a host polls for the answer to an exit it reported (host-main.ts `awaitAnswer`), ms: a restart's start
 * crosses back in 0.1-0.3 ms on an idle box. Off with one core, where the spin would hold up the agent thread.
 */
const RESTART_SPIN_MS = (os.availableParallelism?.() ?? os.cpus().length) > 1 ? 0.5 : 0;

/**
 * A step host in a worker isolate (host-main.ts), seen from the agent thread: routes messages by instance id, and
 * runs the backstop watchdog. A call stuck past its budget (plus grace, when metered) means the host thread itself
 * cannot be trusted to return: it is terminated; the stuck instance exits with `timeout`, the others in the host
 * with `killed` (as the processes of a crashed BEAM node do).
 */
export class WorkerHost implements StepHost {
  readonly threadId: number;
  readonly pipes = true;
  private readonly worker: Worker;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  readonly guests = new Guests();
  private watchdog: NodeJS.Timeout | undefined;
  private watchdogMs = 0;
  private gone = false;
  private workerError: string | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  /**
   * `onEmpty` runs when the last instance left; unless one is added, the host terminates itself `idleMs` later.
   * `onGone` runs when the thread is going (terminated or died).
   */
  constructor(limits: ResourceLimits, private readonly idle: { ms: number; onEmpty(): void; onGone(): void }) {
    // execArgv: [] — the isolate must not inherit flags such as --input-type=module, which would turn the
    // CommonJS prelude of HOST_SOURCE into an ES module without `require`.
    this.worker = new Worker(HOST_SOURCE, { eval: true, resourceLimits: limits, execArgv: [], workerData: { control: this.control.buffer, spinMs: RESTART_SPIN_MS } });
    this.threadId = this.worker.threadId;
    this.worker.unref(); // only running instances keep the agent alive
    this.worker.on('message', (msg: FromHost) => this.guests.route(msg));
    this.worker.on('error', (err) => (this.workerError = err.message));
    this.worker.on('exit', (code) => this.die(() => (this.workerError ? `trap:${this.workerError}` : `trap:step host exited unexpectedly (code ${code})`)));
  }

  /** Isolation is the runtime's choice of host (an unmetered module gets its own); a swap keeps it. */
  accepts(): boolean {
    return true;
  }

  add(guest: Guest): number {
    const id = this.guests.add(guest);
    clearTimeout(this.idleTimer);
    if (this.guests.size === 1) this.worker.ref();
    this.armWatchdog(guest.budgetMs());
    return id;
  }

  remove(id: number): void {
    if (!this.guests.delete(id) || this.guests.size > 0 || this.gone) return;
    this.worker.unref();
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.idleTimer = setTimeout(() => void this.terminate(), this.idle.ms).unref();
    this.idle.onEmpty();
  }

  post(msg: ToHost, transfer: ArrayBuffer[] = []): void {
    if (!this.gone) this.worker.postMessage(msg, transfer);
  }

  /** An unmetered instance stuck in a call can only be ended with its thread: so when it is the host's only one. */
  kill(id: number): void {
    Atomics.store(this.control, CONTROL_KILL, id);
    const running = Atomics.load(this.control, CONTROL_BUSY) === 1 && Atomics.load(this.control, CONTROL_CURRENT) === id;
    if (running && !this.guests.get(id)?.metered && this.guests.size === 1) void this.terminate('killed');
    else this.post({ t: 'drop', i: id });
  }

  /** Terminates the thread; the stuck instance hears `reason`, the others `killed`, once the thread is gone. */
  terminate(reason: ExitReason = 'killed'): Promise<void> {
    const stuck = Atomics.load(this.control, CONTROL_BUSY) === 1 ? Atomics.load(this.control, CONTROL_CURRENT) : 0;
    this.die(() => 'killed', stuck, reason);
    return this.worker.terminate().then(() => undefined);
  }

  private die(reasonOf: () => ExitReason, stuck = 0, stuckReason: ExitReason = 'killed'): void {
    if (this.gone) return;
    this.gone = true;
    clearInterval(this.watchdog);
    clearTimeout(this.idleTimer);
    this.idle.onGone();
    const guests = this.guests.takeAll();
    const report = () => {
      for (const [id, guest] of guests) guest.onHostGone(id === stuck ? stuckReason : reasonOf());
    };
    // Reported once the thread is gone: no step code runs any more when an owner hears of the exit.
    if (this.worker.threadId === -1) report();
    else void this.worker.terminate().then(report);
  }

  /** ABI: the budget backstop. Ticks a tenth of the smallest budget among the instances, clamped to 5–100 ms. */
  private armWatchdog(budgetMs: number): void {
    const ms = Math.max(5, Math.min(100, Math.floor(budgetMs / 10)));
    if (this.watchdog && ms >= this.watchdogMs) return;
    clearInterval(this.watchdog);
    this.watchdogMs = ms;
    let seen = -1;
    let since = 0;
    this.watchdog = setInterval(() => {
      const calls = Atomics.load(this.control, CONTROL_CALLS);
      if (Atomics.load(this.control, CONTROL_BUSY) === 0 || calls !== seen) {
        [seen, since] = [calls, Date.now()];
        return;
      }
      const guest = this.guests.get(Atomics.load(this.control, CONTROL_CURRENT));
      if (!guest) return; // a call of an instance already dropped: its kill flag ends it at the next tick
      // `since` is when this call was first seen running, so it has run at least the budget.
      if (Date.now() - since >= guest.budgetMs() + (guest.metered ? BACKSTOP_GRACE_MS : 0)) void this.terminate('timeout');
    }, ms);
    this.watchdog.unref();
  }
}
