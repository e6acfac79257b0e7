import type { HealthMessage } from '../../shared/messages.js';
import { HISTORY_MAX_SAMPLES, type DeviceHistory } from '../../shared/stream.js';

/** How much health history the dashboard keeps per device, in memory only (never on disk). */
export const HISTORY_WINDOW_S = 3600;

/** The last five minutes are kept at the report interval; older samples of the hour are folded into minute means. */
export const HISTORY_RECENT_S = 300;
const MINUTE_MS = 60_000;
const COARSE_BUCKETS = Math.ceil((HISTORY_WINDOW_S - HISTORY_RECENT_S) / 60);

const COLUMNS = ['rssBytes', 'heapUsedBytes', 'load1', 'stepsInPerS', 'stepsOutPerS'] as const;
type Column = (typeof COLUMNS)[number];
type Sample = { ts: number } & Record<Column, number>;
type Columns = Omit<DeviceHistory, 'id' | 'intervalS' | 'capacity'>;

/**
 * A fixed-capacity ring of samples in typed arrays: 8 bytes for the timestamp plus 4 per value (28 B a sample),
 * values interleaved, in views on memory its owner hands it: one buffer per device, not one per column and tier
 * (10,000 devices' rings took 153 MB of RSS in twelve small buffers each, 103 MB in one).
 */
class SampleRing {
  private readonly ts: Float64Array;
  private readonly values: Float32Array;
  private next = 0;
  size = 0;

  /** `memory` holds `SampleRing.bytes(capacity)` from `offset` (a multiple of 8). */
  constructor(readonly capacity: number, memory: ArrayBuffer, offset: number) {
    this.ts = new Float64Array(memory, offset, capacity);
    this.values = new Float32Array(memory, offset + 8 * capacity, capacity * COLUMNS.length);
  }

  static bytes(capacity: number): number {
    return Math.ceil((capacity * (8 + 4 * COLUMNS.length)) / 8) * 8;
  }

  /** Adds a sample; returns the one it overwrote when full (the oldest), so a caller can fold it elsewhere. */
  push(sample: Sample, evicted?: Sample): Sample | undefined {
    const i = this.next;
    let out: Sample | undefined;
    if (this.size === this.capacity && evicted) {
      evicted.ts = this.ts[i];
      for (let k = 0; k < COLUMNS.length; k++) evicted[COLUMNS[k]] = this.values[i * COLUMNS.length + k];
      out = evicted;
    }
    this.ts[i] = sample.ts;
    for (let k = 0; k < COLUMNS.length; k++) this.values[i * COLUMNS.length + k] = sample[COLUMNS[k]];
    this.next = (i + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    return out;
  }

  /** Oldest first, appended to `into`. */
  appendTo(into: Columns): void {
    const start = (this.next - this.size + this.capacity) % this.capacity;
    for (let k = 0; k < this.size; k++) {
      const i = (start + k) % this.capacity;
      into.ts.push(this.ts[i]);
      // A float32 read back as a double prints ~17 digits (0.3 → 0.30000001192092896); 7 is all it holds.
      for (let c = 0; c < COLUMNS.length; c++) into[COLUMNS[c]].push(Number(this.values[i * COLUMNS.length + c].toPrecision(7)));
    }
  }
}

const emptySample = (): Sample => ({ ts: 0, rssBytes: 0, heapUsedBytes: 0, load1: 0, stepsInPerS: 0, stepsOutPerS: 0 });

/**
 * One hour of a device's health in two tiers: the last five minutes at the report interval, the rest as one mean per
 * minute. A device reporting every second costs 300 + 55 samples ≈ 10 KB instead of 3,600 ≈ 100 KB, which is what
 * lets one coordinator hold 10,000 devices (bench/cluster-load.ts); the chart keeps its detail where people look.
 */
export class HealthRing {
  readonly capacity: number;
  private readonly recent: SampleRing;
  private readonly coarse: SampleRing;
  /** The minute being folded: sums of the samples that left the recent tier in it. */
  private minute = -1;
  private count = 0;
  private readonly sums = emptySample();
  private readonly evicted = emptySample();

  constructor(readonly intervalS: number) {
    const recent = Math.max(1, Math.min(HISTORY_MAX_SAMPLES - COARSE_BUCKETS, Math.ceil(HISTORY_RECENT_S / intervalS)));
    const memory = new ArrayBuffer(SampleRing.bytes(recent) + SampleRing.bytes(COARSE_BUCKETS));
    this.recent = new SampleRing(recent, memory, 0);
    this.coarse = new SampleRing(COARSE_BUCKETS, memory, SampleRing.bytes(recent));
    this.capacity = recent + COARSE_BUCKETS;
  }

  push(h: HealthMessage): void {
    const old = this.recent.push(
      { ts: h.ts, rssBytes: h.memory.rss, heapUsedBytes: h.memory.heapUsed, load1: h.load[0], stepsInPerS: h.rates.in, stepsOutPerS: h.rates.out },
      this.evicted,
    );
    if (old) this.fold(old);
  }

  private fold(sample: Sample): void {
    const minute = Math.floor(sample.ts / MINUTE_MS);
    if (minute !== this.minute) this.flushMinute();
    this.minute = minute;
    this.count++;
    this.sums.ts = sample.ts; // a bucket is stamped with its newest sample
    for (const c of COLUMNS) this.sums[c] += sample[c];
  }

  private flushMinute(): void {
    if (this.count === 0) return;
    const mean = emptySample();
    mean.ts = this.sums.ts;
    for (const c of COLUMNS) {
      mean[c] = this.sums[c] / this.count;
      this.sums[c] = 0;
    }
    this.coarse.push(mean);
    this.count = 0;
  }

  /** Oldest first, as plain columns: minute means (the minute being folded included), then the recent samples. */
  columns(): Columns {
    const out: Columns = { ts: [], rssBytes: [], heapUsedBytes: [], load1: [], stepsInPerS: [], stepsOutPerS: [] };
    this.coarse.appendTo(out);
    if (this.count > 0) {
      out.ts.push(this.sums.ts);
      for (const c of COLUMNS) out[c].push(Number((this.sums[c] / this.count).toPrecision(7)));
    }
    this.recent.appendTo(out);
    return out;
  }
}

/**
 * Per-device health history. Rings are sized from the device's report interval and start over when the interval
 * changes (mixed spacing would misdraw the hour). A removed device's ring is dropped when the directory says so.
 */
export class HealthHistory {
  private readonly rings = new Map<string, HealthRing>();

  record(id: string, h: HealthMessage): void {
    let ring = this.rings.get(id);
    if (!ring || ring.intervalS !== h.intervalS) {
      ring = new HealthRing(h.intervalS);
      this.rings.set(id, ring);
    }
    ring.push(h);
  }

  forget(id: string): void {
    this.rings.delete(id);
  }

  get(id: string): DeviceHistory {
    const ring = this.rings.get(id);
    if (!ring) return { id, intervalS: null, capacity: 0, ts: [], rssBytes: [], heapUsedBytes: [], load1: [], stepsInPerS: [], stepsOutPerS: [] };
    return { id, intervalS: ring.intervalS, capacity: ring.capacity, ...ring.columns() };
  }

  get deviceCount(): number {
    return this.rings.size;
  }
}
