import type { SupervisorEvent } from '../../shared/supervisor-events.js';

export interface LoggedEvent {
  /** Wall-clock milliseconds. */
  ts: number;
  /** Increases by one per event over the life of the log, so a reader sees what fell out of the ring. */
  seq: number;
  event: SupervisorEvent;
}

/** The most recent supervisor events, oldest first; older ones fall out once `capacity` is reached. */
export class EventLog {
  private readonly ring: LoggedEvent[] = [];
  private next = 0;
  private seq = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('event log capacity must be a positive integer');
  }

  add(event: SupervisorEvent, ts: number): LoggedEvent {
    const entry = { ts, seq: this.seq++, event };
    if (this.ring.length < this.capacity) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    return entry;
  }

  recent(): LoggedEvent[] {
    return this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }
}
