/**
 * A token bucket: `burst` tokens, refilled at `ratePerS`; each accepted item takes one. Pure: the caller passes
 * the time (ms), so tests drive it with a fake clock and agent and coordinator share the same arithmetic.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    readonly ratePerS: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.at = nowMs;
  }

  /** Takes a token if one is available at `nowMs`; false means the item is over the rate and must be dropped. */
  take(nowMs: number): boolean {
    // A clock that went backwards refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, nowMs - this.at);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerS) / 1000);
    this.at = Math.max(this.at, nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One bucket per key (a step path, a device id), created full on first use; the map is bounded. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
    private readonly maxKeys = 10_000,
  ) {}

  take(key: string, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      // Past the bound the oldest key starts over full: a step renamed many times cannot grow memory without limit.
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(key, (bucket = new TokenBucket(this.ratePerS, this.burst, nowMs)));
    }
    return bucket.take(nowMs);
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }
}
