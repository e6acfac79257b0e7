/**
 * Steps of a rollout or share, carried out one batch at a time: every step queued while a commit is in flight runs
 * in the next batch, then one commit covers them all (group commit one level up: a wave's hundred device updates
 * share a handful of fsyncs instead of queueing a hundred). A step's promise resolves with what `commit` returned,
 * once the state the step left is on disk; `after` runs when a batch is committed (send what it decided).
 */
export class StepQueue<T> {
  private queue: { step: () => void; resolve(value: T): void; reject(err: unknown): void }[] = [];
  private draining = false;

  constructor(
    private readonly commit: () => Promise<T>,
    private readonly after: () => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  run(step: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ step, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length) {
      const batch = this.queue.splice(0);
      const ran = batch.filter((b) => {
        try {
          b.step();
          return true;
        } catch (err) {
          b.reject(err);
          this.onError(err);
          return false;
        }
      });
      try {
        const value = await this.commit();
        for (const b of ran) b.resolve(value);
        this.after();
      } catch (err) {
        for (const b of ran) b.reject(err);
        this.onError(err);
      }
    }
    this.draining = false;
  }
}
