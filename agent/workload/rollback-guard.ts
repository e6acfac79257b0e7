import type { DesiredState } from '../../shared/desired.js';

/**
 * Device-local rollback (docs/rollouts.md): when a guarded revision is applied, the state it replaces is kept; if
 * that revision fails (its tree does not start, or its root supervisor gives up) within the guard's window, the
 * agent goes back to it by itself, with or without its coordinator. Pure: time comes from the clock.
 */
export class RollbackGuard {
  private armed: { revision: number; previous: DesiredState; until: number } | undefined;

  constructor(private readonly now: () => number) {}

  /** `desired` is about to replace `previous` (undefined: nothing ran before, nothing to go back to). */
  applying(desired: DesiredState, previous: DesiredState | undefined): void {
    this.armed = desired.guard && previous ? { revision: desired.revision, previous, until: this.now() + desired.guard.windowMs } : undefined;
  }

  /** `revision` failed: the state to go back to, if it is guarded and still within its window (then disarmed). */
  failed(revision: number): DesiredState | undefined {
    const armed = this.armed;
    if (!armed || armed.revision !== revision || this.now() > armed.until) return undefined;
    this.armed = undefined;
    return armed.previous;
  }
}
