import type { Backoff } from '../../shared/backoff.js';
import { errorMessage } from '../../shared/errors.js';

export interface FetchRetryDeps {
  /** One fetch attempt, given at most `timeoutMs`; `signal` abandons it. */
  attempt(signal: AbortSignal, timeoutMs: number): Promise<Uint8Array>;
  /** Calls `listener` each time the link to the coordinator comes (back) up; returns the unsubscribe. */
  onReconnect(listener: () => void): () => void;
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  backoff: Backoff;
  /** A failure that asking again will not change (the coordinator answered that it has no such module). */
  isFinal(err: unknown): boolean;
  /** The longest one attempt may wait for its reply. */
  attemptTimeoutMs: number;
}

export class ModuleFetchGaveUp extends Error {
  override name = 'ModuleFetchGaveUp';
}

/**
 * Fetch a module, retrying until `deadline` (the apply's time budget): a coordinator that restarts or a link that
 * drops mid-fetch loses the request, so a reconnect abandons the attempt in flight and asks again at once; a timeout
 * (or a transfer that did not hash right) waits a backoff first. A coordinator that answers it has no such
 * module is believed: it is up, and has already asked its own parent. Pure: time and the link come from `deps`.
 */
export async function fetchWithRetry(deps: FetchRetryDeps, deadline: number, cancel?: AbortSignal): Promise<Uint8Array> {
  let attempts = 0;
  for (;;) {
    if (cancel?.aborted) throw new ModuleFetchGaveUp(`module fetch cancelled after ${attempts} attempt(s): the agent is stopping`);
    const current = new AbortController();
    const abort = () => current.abort();
    cancel?.addEventListener('abort', abort, { once: true });
    const offReconnect = deps.onReconnect(abort);
    const off = () => {
      offReconnect();
      cancel?.removeEventListener('abort', abort);
    };
    let failure: unknown;
    try {
      attempts++;
      return await deps.attempt(current.signal, Math.max(1, Math.min(deps.attemptTimeoutMs, deadline - deps.now())));
    } catch (err) {
      if (deps.isFinal(err)) throw err;
      failure = err;
    } finally {
      off();
    }
    const left = deadline - deps.now();
    if (left <= 0) throw new ModuleFetchGaveUp(`${errorMessage(failure)} (gave up after ${attempts} attempt(s))`);
    if (current.signal.aborted) continue;
    // The backoff is cut short by a reconnect (the link that came back is the one to ask) or by `cancel`.
    const wake = new AbortController();
    const wakeUp = () => wake.abort();
    cancel?.addEventListener('abort', wakeUp, { once: true });
    const offWake = deps.onReconnect(wakeUp);
    try {
      await deps.sleep(Math.min(deps.backoff.next(), left), wake.signal);
    } finally {
      offWake();
      cancel?.removeEventListener('abort', wakeUp);
    }
  }
}
