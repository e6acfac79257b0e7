import type { ExitReason } from '../../shared/step-abi.js';
import type { LoadedStep } from './load.js';
import type { FromHost, ToHost } from './protocol.js';

/** What a host needs from each instance it runs (StepInstance). */
export interface Guest {
  /** The time budget of one call, ms (the current manifest's). */
  budgetMs(): number;
  /** True if the module is metered: its calls end themselves at the budget, the backstop is only a backstop. */
  readonly metered: boolean;
  onMessage(msg: Exclude<FromHost, { t: 'chain' }>): void;
  /** The host is gone (terminated, died, or ended by its backstop) with the instance in it. */
  onHostGone(reason: ExitReason): void;
}

/**
 * Grace past the budget before the backstop ends a host stuck in a metered call (its `tick` should have trapped it
 * at the budget). 500 ms, not less: on a loaded box the host thread can be descheduled for tens of milliseconds,
 * and a 50 ms grace ended hosts whose metered call was about to trap itself, killing its siblings. An unmetered
 * call has no other enforcement: no grace.
 */
export const BACKSTOP_GRACE_MS = 500;

/**
 * One step host: runs instances of compiled modules (host-main.ts) one call at a time, and talks to their
 * StepInstances in messages (protocol.ts). Two kinds: the agent's own thread (thread-host.ts, the default host) and
 * a worker isolate (worker-host.ts: named hosts, unmetered modules).
 */
export interface StepHost {
  /** The thread the host's calls run on (0: the agent's main thread). */
  readonly threadId: number;
  /** Whether a producer's outputs are handed to `{from}` consumers inside the host (saving two thread crossings). */
  readonly pipes: boolean;
  /** Whether the host may run `step` (at a start, and a swap to it). */
  accepts(step: LoadedStep): boolean;
  /** The instances in this host now. */
  readonly guests: Guests;
  /** Registers an instance; returns its id (the `i` of its messages). */
  add(guest: Guest): number;
  /** The instance is done with this host (its exit was reported, or its drop acknowledged). */
  remove(id: number): void;
  post(msg: ToHost, transfer?: ArrayBuffer[]): void;
  /**
   * Ends instance `id` from outside: a metered instance running now traps at its next `tick`; any instance is then
   * forgotten by the host (`dropped`), its queued batches unrun.
   */
  kill(id: number): void;
  /** Ends the host; every instance still in it hears `reason` (or `killed`) once none of its code runs. */
  terminate(reason?: ExitReason): Promise<void>;
}

/** A host's instances by the id of their messages, and the routing of the host's replies to them. */
export class Guests {
  private readonly byId = new Map<number, Guest>();
  private nextId = 1;

  get size(): number {
    return this.byId.size;
  }

  get(id: number): Guest | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<Guest> {
    return this.byId.values();
  }

  add(guest: Guest): number {
    const id = this.nextId++;
    this.byId.set(id, guest);
    return id;
  }

  delete(id: number): boolean {
    return this.byId.delete(id);
  }

  /** Hands one message from the host to the instance it names (a chain: each of its replies, in order). */
  route(msg: FromHost): void {
    if (msg.t !== 'chain') return this.byId.get(msg.i)?.onMessage(msg);
    for (const reply of msg.replies) if (reply.t !== 'chain') this.byId.get(reply.i)?.onMessage(reply);
  }

  /** Empties the registry (the host is gone); returns what it held. */
  takeAll(): [number, Guest][] {
    const all = [...this.byId];
    this.byId.clear();
    return all;
  }
}
