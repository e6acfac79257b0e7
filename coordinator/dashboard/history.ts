import type { HealthMessage } from '../../shared/messages.js';
import { HISTORY_MAX_SAMPLES, type DeviceHistory } from '../../shared/stream.js';

/** How much health history the dashboard keeps per device, in memory only (never on disk). */
export const HISTORY_WINDOW_S = 3600;

const COLUMNS = ['rssBytes', 'heapUsedBytes', 'load1', 'stepsInPerS', 'stepsOutPerS'] as const;
type Column = (typeof COLUMNS)[number];

/**
 * A fixed-capacity ring of health samples in typed arrays: 8 bytes for the timestamp plus 4 per value, so a device
 * reporting every 10 s costs 360 × 28 B ≈ 10 KB. Float32 is plenty for a chart (7 significant digits).
 */
export class HealthRing {
  private readonly ts: Float64Array;
  private readonly values: Record<Column, Float32Array>;
  private next = 0;
  private size = 0;

  constructor(
    readonly intervalS: number,
    readonly capacity = Math.min(HISTORY_MAX_SAMPLES, Math.ceil(HISTORY_WINDOW_S / intervalS)),
  ) {
    this.ts = new Float64Array(capacity);
    this.values = Object.fromEntries(COLUMNS.map((c) => [c, new Float32Array(capacity)])) as Record<Column, Float32Array>;
  }

  push(h: HealthMessage): void {
    const i = this.next;
    this.ts[i] = h.ts;
    this.values.rssBytes[i] = h.memory.rss;
    this.values.heapUsedBytes[i] = h.memory.heapUsed;
    this.values.load1[i] = h.load[0];
    this.values.stepsInPerS[i] = h.rates.in;
    this.values.stepsOutPerS[i] = h.rates.out;
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** Oldest first, as plain columns. */
  columns(): Omit<DeviceHistory, 'id' | 'intervalS' | 'capacity'> {
    const start = (this.next - this.size + this.capacity) % this.capacity;
    const read = (arr: Float64Array | Float32Array) => {
      // A float32 read back as a double prints ~17 digits (0.3 → 0.30000001192092896); 7 is all it holds, and
      // the shorter JSON keeps an hour of history (also sent up the federation) around 200 KB.
      const round = arr instanceof Float32Array ? (v: number) => Number(v.toPrecision(7)) : (v: number) => v;
      const out = new Array<number>(this.size);
      for (let k = 0; k < this.size; k++) out[k] = round(arr[(start + k) % this.capacity]);
      return out;
    };
    return {
      ts: read(this.ts),
      rssBytes: read(this.values.rssBytes),
      heapUsedBytes: read(this.values.heapUsedBytes),
      load1: read(this.values.load1),
      stepsInPerS: read(this.values.stepsInPerS),
      stepsOutPerS: read(this.values.stepsOutPerS),
    };
  }
}

/**
 * Per-device health history. Rings are sized from the device's report interval and start over when the interval
 * changes (mixed spacing would misdraw the hour). `alive` says whether a device still exists, so rings of removed
 * devices are dropped when new devices appear, without a timer.
 */
export class HealthHistory {
  private readonly rings = new Map<string, HealthRing>();

  constructor(private readonly alive: (id: string) => boolean) {}

  record(id: string, h: HealthMessage): void {
    let ring = this.rings.get(id);
    if (!ring || ring.intervalS !== h.intervalS) {
      if (!ring) this.prune();
      ring = new HealthRing(h.intervalS);
      this.rings.set(id, ring);
    }
    ring.push(h);
  }

  get(id: string): DeviceHistory {
    const ring = this.rings.get(id);
    if (!ring) return { id, intervalS: null, capacity: 0, ts: [], rssBytes: [], heapUsedBytes: [], load1: [], stepsInPerS: [], stepsOutPerS: [] };
    return { id, intervalS: ring.intervalS, capacity: ring.capacity, ...ring.columns() };
  }

  get deviceCount(): number {
    return this.rings.size;
  }

  private prune(): void {
    for (const id of this.rings.keys()) if (!this.alive(id)) this.rings.delete(id);
  }
}
