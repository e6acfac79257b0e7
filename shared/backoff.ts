/**
 * Exponential backoff with full jitter (delay drawn from [base, min(cap, base·2^attempt)]), so a fleet that lost
 * its coordinator does not reconnect in lockstep. Pure: the random source is injected.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(this.baseMs + this.random() * (ceiling - this.baseMs));
  }

  reset(): void {
    this.attempt = 0;
  }
}
