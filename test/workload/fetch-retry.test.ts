import { describe, expect, it } from 'vitest';
import { Backoff } from '../../shared/backoff.js';
import { fetchWithRetry, type FetchRetryDeps } from '../../agent/workload/fetch-retry.js';

/** A fake clock and link: sleeps advance time at once; `reconnect()` fires the link's listeners. */
function fake(attempt: FetchRetryDeps['attempt']) {
  let now = 0;
  const listeners = new Set<() => void>();
  const sleeps: number[] = [];
  const deps: FetchRetryDeps = {
    attempt,
    onReconnect: (l) => (listeners.add(l), () => void listeners.delete(l)),
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    isFinal: (err) => err instanceof Error && err.message === 'no such module',
    backoff: new Backoff(500, 4000, () => 1),
    attemptTimeoutMs: 30_000,
  };
  return { deps, sleeps, reconnect: () => [...listeners].forEach((l) => l()), advance: (ms: number) => (now += ms), listeners };
}

const BYTES = new Uint8Array([1, 2, 3]);

describe('fetchWithRetry', () => {
  it('retries failed attempts with growing backoff until one succeeds', async () => {
    let calls = 0;
    const f = fake(async () => {
      if (++calls < 4) throw new Error('not received in time');
      return BYTES;
    });
    expect(await fetchWithRetry(f.deps, 60_000)).toBe(BYTES);
    expect(f.sleeps).toEqual([500, 1000, 2000]);
    expect(f.listeners.size).toBe(0);
  });

  it('believes a coordinator that says it has no such module', async () => {
    let calls = 0;
    const f = fake(async () => {
      calls++;
      throw new Error('no such module');
    });
    await expect(fetchWithRetry(f.deps, 60_000)).rejects.toThrow('no such module');
    expect(calls).toBe(1);
  });

  it('a reconnect abandons the attempt in flight and asks again without waiting', async () => {
    const signals: AbortSignal[] = [];
    let f!: ReturnType<typeof fake>;
    f = fake((signal) => {
      signals.push(signal);
      if (signals.length === 2) return Promise.resolve(BYTES);
      // The request went to a coordinator that died: no reply ever comes, only the abort.
      const lost = new Promise<Uint8Array>((_, reject) => signal.addEventListener('abort', () => reject(new Error('abandoned'))));
      queueMicrotask(() => f.reconnect());
      return lost;
    });
    expect(await fetchWithRetry(f.deps, 60_000)).toBe(BYTES);
    expect(signals[0].aborted).toBe(true);
    expect(f.sleeps).toEqual([]);
  });

  it('gives each attempt at most what is left of the budget and gives up at the deadline', async () => {
    const timeouts: number[] = [];
    const f = fake(async (_signal, timeoutMs) => {
      timeouts.push(timeoutMs);
      f.advance(timeoutMs);
      throw new Error(`not received within ${timeoutMs} ms`);
    });
    await expect(fetchWithRetry(f.deps, 40_000)).rejects.toThrow(/gave up after 2 attempt\(s\)/);
    // 30 s, a 500 ms backoff, then the 9.5 s left.
    expect(timeouts).toEqual([30_000, 9_500]);
  });

  it('ends at once when cancelled (the agent stopping), also in the middle of an attempt', async () => {
    const cancel = new AbortController();
    const f = fake((signal) => {
      queueMicrotask(() => cancel.abort());
      return new Promise<Uint8Array>((_, reject) => signal.addEventListener('abort', () => reject(new Error('abandoned'))));
    });
    await expect(fetchWithRetry(f.deps, 60_000, cancel.signal)).rejects.toThrow(/cancelled after 1 attempt\(s\)/);
    expect(f.sleeps).toEqual([]);
  });
});
