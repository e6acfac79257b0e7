import type { EventMessage } from '../../shared/messages.js';
import type { StreamRates } from '../../shared/stream.js';
import type { DirectoryChange } from '../fleet/directory.js';

/** What accumulated since the last drain: ids whose summary changed (each once), events in arrival order, and whether the cluster tree changed. */
export interface FeedBatch {
  deviceIds: string[];
  events: { id: string; event: EventMessage }[];
  clusters: boolean;
}

/**
 * Pure core of the live channel: coalesces the device directory's changes into batches (a device that reported five times since
 * the last flush is sent once, with its latest summary) and measures message rates. No sockets, no timers.
 */
export class LiveFeed {
  private dirty = new Set<string>();
  private events: FeedBatch['events'] = [];
  private clusters = false;
  private messages = 0;
  /** Latest step message rates per online device, from health. */
  private readonly stepRates = new Map<string, { in: number; out: number }>();

  change(c: DirectoryChange): void {
    if (c.kind === 'clusters') return void (this.clusters = true);
    if (c.kind !== 'enrolled') this.messages++;
    if (c.kind === 'event' || c.kind === 'remote_event') {
      this.events.push({ id: c.id, event: c.event });
      // A local event leaves the summary as it was; one from below may be the first news of its device.
      if (c.kind === 'event') return;
    }
    this.dirty.add(c.id);
    if (c.kind === 'health') this.stepRates.set(c.id, c.health.rates);
    else if (c.kind === 'offline' || c.kind === 'removed') this.stepRates.delete(c.id);
  }

  get pending(): boolean {
    return this.dirty.size > 0 || this.events.length > 0 || this.clusters;
  }

  drain(): FeedBatch {
    const batch = { deviceIds: [...this.dirty], events: this.events, clusters: this.clusters };
    this.dirty = new Set();
    this.events = [];
    this.clusters = false;
    return batch;
  }

  /** Rates over the `elapsedMs` since the previous call. */
  rates(elapsedMs: number): StreamRates {
    let stepsIn = 0;
    let stepsOut = 0;
    for (const r of this.stepRates.values()) {
      stepsIn += r.in;
      stepsOut += r.out;
    }
    const perS = elapsedMs > 0 ? (this.messages * 1000) / elapsedMs : 0;
    this.messages = 0;
    return { deviceMessagesPerS: round2(perS), stepsInPerS: round2(stepsIn), stepsOutPerS: round2(stepsOut) };
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
