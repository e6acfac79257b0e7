import { SupervisorCore, type Decision } from '../../agent/supervisor/core.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';

/**
 * Drives a SupervisorCore like a well-behaved runner would, with a fake clock: workers start at once (unless told
 * to fail), stop when asked (unless told to hang), and timers fire only when the test says so. Every decision is
 * logged as a short line, in order, so tests compare sequences.
 */
export class Harness {
  now = 0;
  readonly core: SupervisorCore;
  readonly log: string[] = [];
  readonly running = new Set<string>();
  readonly timers = new Map<string, number>();
  /** path → reason: the next start of that worker fails. */
  readonly failStart = new Map<string, string>();
  /** Workers that ignore a stop request (only a kill ends them). */
  readonly hang = new Set<string>();
  /** Workers whose start the test answers itself (`started`/`startFailed`). */
  readonly manualStart = new Set<string>();
  private readonly queue: (() => Decision[])[] = [];

  constructor(spec: unknown) {
    this.core = new SupervisorCore(parseSupervisorSpec(spec), { clock: { nowMs: () => this.now } });
  }

  start(): this {
    return this.drive(() => this.core.start());
  }

  stop(): this {
    return this.drive(() => this.core.stop());
  }

  /** A worker exits by itself. */
  exit(path: string, reason: string): this {
    if (!this.running.delete(path)) throw new Error(`${path} is not running`);
    return this.drive(() => this.core.exited(path, reason));
  }

  fireTimer(path: string): this {
    if (!this.timers.delete(path)) throw new Error(`no timer for ${path}`);
    return this.drive(() => this.core.timerFired(path));
  }

  drive(fn: () => Decision[]): this {
    this.queue.push(fn);
    while (this.queue.length) this.apply(this.queue.shift()!());
    return this;
  }

  /** The log since the previous call. */
  take(): string[] {
    return this.log.splice(0);
  }

  events(): string[] {
    return this.take().filter((l) => !/^(start|stop|kill|set_timer|clear_timer|swap) /.test(l));
  }

  private apply(decisions: Decision[]): void {
    for (const d of decisions) {
      switch (d.type) {
        case 'event': {
          const e = d.event;
          const rest = e.type === 'child_started' ? e.child : e.type === 'child_terminated' ? `${e.child} ${e.reason}` : e.type === 'supervisor_shutdown' ? e.reason : '';
          this.log.push(`${e.type} ${e.supervisor}${rest ? ' ' + rest : ''}`);
          break;
        }
        case 'start': {
          this.log.push(`start ${d.path}`);
          if (this.manualStart.has(d.path)) break;
          const failure = this.failStart.get(d.path);
          if (failure !== undefined) {
            this.failStart.delete(d.path);
            this.queue.push(() => this.core.startFailed(d.path, failure));
          } else {
            this.running.add(d.path);
            this.queue.push(() => this.core.started(d.path));
          }
          break;
        }
        case 'stop':
          this.log.push(`stop ${d.path}`);
          if (!this.hang.has(d.path)) {
            this.running.delete(d.path);
            this.queue.push(() => this.core.exited(d.path, 'shutdown'));
          }
          break;
        case 'kill':
          this.log.push(`kill ${d.path}`);
          this.running.delete(d.path);
          break;
        case 'set_timer':
          this.log.push(`set_timer ${d.path} ${d.ms}`);
          this.timers.set(d.path, d.ms);
          break;
        case 'clear_timer':
          this.log.push(`clear_timer ${d.path}`);
          this.timers.delete(d.path);
          break;
        case 'swap':
          this.log.push(`swap ${d.path} ${d.child.step}`);
          break;
      }
    }
  }
}

/** A worker child spec with a placeholder step. */
export function worker(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, step: `${id}@1.0.0`, ...extra };
}
