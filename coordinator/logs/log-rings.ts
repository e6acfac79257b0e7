import { matchesLogQuery } from '../../shared/log-match.js';
import { LOG_RING_LINES, type LogLine, type LogQuery } from '../../shared/logs.js';
import { KeyedBuckets } from '../../shared/token-bucket.js';

/**
 * Per device, what a coordinator accepts from all its steps and itself together: a device whose agent does not
 * rate-limit (an old or hostile one) still cannot take more than this from the coordinator.
 */
export const DEVICE_LOG_RATE_PER_S = 20;
export const DEVICE_LOG_BURST = 100;

interface Ring {
  lines: LogLine[];
  /** Index of the oldest line once the ring is full. */
  start: number;
  dropped: number;
}

/**
 * The recent log lines of each device of this cluster, in memory only: a bounded ring per device, fed at most at
 * the per-device rate (over it, lines are dropped and counted). Pure: the caller passes the time.
 */
export class LogRings {
  private readonly rings = new Map<string, Ring>();
  private readonly buckets: KeyedBuckets;

  constructor(
    private readonly capacity = LOG_RING_LINES,
    ratePerS = DEVICE_LOG_RATE_PER_S,
    burst = DEVICE_LOG_BURST,
  ) {
    this.buckets = new KeyedBuckets(ratePerS, burst);
  }

  /** Keeps `line` for device `id`; false if it was over the device's rate and dropped. */
  add(id: string, line: LogLine, nowMs: number): boolean {
    const ring = this.ringOf(id);
    if (!this.buckets.take(id, nowMs)) {
      ring.dropped++;
      return false;
    }
    if (ring.lines.length < this.capacity) ring.lines.push(line);
    else {
      ring.lines[ring.start] = line;
      ring.start = (ring.start + 1) % this.capacity;
    }
    return true;
  }

  /** The newest `query.limit` lines matching the query, oldest first. */
  query(id: string, query: LogQuery): LogLine[] {
    const ring = this.rings.get(id);
    if (!ring) return [];
    const ordered = [...ring.lines.slice(ring.start), ...ring.lines.slice(0, ring.start)];
    return ordered.filter((line) => matchesLogQuery(line, query)).slice(-query.limit);
  }

  dropped(id: string): number {
    return this.rings.get(id)?.dropped ?? 0;
  }

  forget(id: string): void {
    this.rings.delete(id);
    this.buckets.forget(id);
  }

  private ringOf(id: string): Ring {
    let ring = this.rings.get(id);
    if (!ring) this.rings.set(id, (ring = { lines: [], start: 0, dropped: 0 }));
    return ring;
  }
}
