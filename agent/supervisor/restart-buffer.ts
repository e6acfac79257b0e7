/**
 * Messages for a child that is (re)starting, kept until it runs again (docs/supervision.md, "Restart buffer"):
 * at most `capacity` messages; a message arriving when it is full is dropped and counted, the kept ones stay in order.
 */
export class RestartBuffer {
  private readonly queue: Uint8Array[] = [];
  dropped = 0;

  constructor(readonly capacity: number) {}

  /** False when full: the message was dropped (and counted). */
  add(payload: Uint8Array): boolean {
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    // Callers may reuse their buffer (MQTT clients do): keep a copy.
    this.queue.push(payload.slice());
    return true;
  }

  get size(): number {
    return this.queue.length;
  }

  /** Everything buffered, oldest first; the buffer is empty afterwards. */
  take(): Uint8Array[] {
    return this.queue.splice(0);
  }

  /** Puts messages taken by `take` back in front (a start they were given to failed); the newest over capacity drop. */
  restore(messages: Uint8Array[]): void {
    this.queue.unshift(...messages);
    const over = this.queue.length - this.capacity;
    if (over > 0) this.dropped += this.queue.splice(this.capacity, over).length;
  }
}
