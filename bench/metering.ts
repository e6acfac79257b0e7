/**
 * The cost of metering (issue 13), each against the uninstrumented module in the same run, in this thread:
 *   - a loop-heavy step (FNV-1a over the input, 1000 rounds: a hot loop with a small body; target <= 2x), and an
 *     empty countdown loop (the worst case: a check per 3 instructions);
 *   - the example steps (AssemblyScript, as `flotilla step build` makes them; target <= 1.2x);
 *   - how long past a deadline an infinite loop is interrupted by a throwing `tick`;
 *   - the rewrite itself, in ms per KB of module.
 * The host's part is modelled as a step host does it: fuel set before each call, `tick` checks the clock and refills.
 * Run: `npm run build && node dist/bench/metering.js [--quick]`.
 */
import wabtInit from 'wabt';
import { meter, METER_FUEL } from '../agent/runtime/metering/index.js';
import { exampleStep } from '../cli/example-steps.js';
import { quick, report, type Cell } from './report.js';

/** Fuel per refill, in instructions (about a millisecond of work): how often `tick` looks at the clock. */
const FUEL = 1_000_000;
const wabt = await wabtInit();

function watBytes(text: string): Uint8Array {
  const parsed = wabt.parseWat('bench.wat', text);
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

const STEP = (body: string) => `(module
  (import "flotilla" "emit" (func $emit (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  ${body})`;

const FNV = STEP(`(func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $h i32) (local $i i32) (local $round i32)
    (local.set $h (i32.const 0x811c9dc5))
    (loop $rounds
      (local.set $i (i32.const 0))
      (block $done (loop $bytes
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))) (i32.const 0x01000193)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $bytes)))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $round) (i32.const 1000))))
    (i32.store (i32.const 0) (local.get $h))
    (call $emit (i32.const 0) (i32.const 4))
    (i32.const 0))`);

const COUNTDOWN = STEP(`(func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (local $i i32)
    (local.set $i (i32.mul (local.get $len) (i32.const 1000)))
    (loop $l (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
    (call $emit (local.get $ptr) (i32.const 0))
    (i32.const 0))`);

// Spins forever on an input starting with "L" (test/fixtures/wat/loop.wat).
const SPIN = STEP(`(func (export "process") (param $ptr i32) (param $len i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $ptr)) (i32.const 76)) (then (loop $forever (br $forever))))
    (call $emit (local.get $ptr) (local.get $len))
    (i32.const 0))`);

class Deadline extends Error {}

/** One instance with the host's side of the ABI: emit copies out, the fuel is set per call, tick checks a deadline. */
class Host {
  private readonly exports: { memory: { buffer: ArrayBuffer }; alloc(n: number): number; process(p: number, n: number): number; init?(p: number, n: number): number };
  private readonly fuel?: { value: number };
  private readonly sink = new Uint8Array(1 << 20);
  deadline = Infinity;
  emitted = 0;
  ticks = 0;

  /** `refill`: the fuel per call and per tick (0 makes every check call tick, so `ticks` counts checks). */
  constructor(module: WebAssembly.Module, config?: unknown, private readonly refill = FUEL) {
    const imports = {
      flotilla: {
        emit: (ptr: number, len: number) => {
          this.sink.set(new Uint8Array(this.exports.memory.buffer, ptr, len).subarray(0, this.sink.length));
          this.emitted += len;
        },
        log: () => {},
        now_ms: () => Date.now(),
      },
      env: {
        abort: () => {
          throw new Error('abort');
        },
      },
      flotilla_meter: {
        tick: () => {
          this.ticks++;
          if (performance.now() >= this.deadline) throw new Deadline();
          if (this.fuel) this.fuel.value = this.refill;
        },
      },
    };
    const instance = new WebAssembly.Instance(module, imports);
    this.exports = instance.exports as Host['exports'];
    this.fuel = instance.exports[METER_FUEL] as { value: number } | undefined;
    if (this.exports.init) {
      const text = config === undefined ? undefined : new TextEncoder().encode(JSON.stringify(config));
      if ((text ? this.call(text, this.exports.init) : this.exports.init(0, 0)) !== 0) throw new Error('init failed');
    }
  }

  private call(payload: Uint8Array, fn: (p: number, n: number) => number): number {
    const ptr = this.exports.alloc(payload.length);
    new Uint8Array(this.exports.memory.buffer).set(payload, ptr);
    if (this.fuel) this.fuel.value = this.refill;
    return fn(ptr, payload.length);
  }

  process(payload: Uint8Array): number {
    return this.call(payload, this.exports.process);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Seconds per pass over `inputs`, original and metered: many short samples, alternating which goes first, so that
 * the other load of a shared machine hits both alike; returns the medians and the median of the per-pair ratios.
 */
function compare(bytes: Uint8Array, inputs: Uint8Array[], config: unknown, pairs: number, sampleMs: number): { plain: number; metered: number; ratio: number; checks: number } {
  const metered = new WebAssembly.Module(meter(bytes));
  const hosts = [new Host(new WebAssembly.Module(bytes), config), new Host(metered, config)];
  const pass = (host: Host) => {
    for (const input of inputs) host.process(input);
  };
  // Warm up (V8 tiers hot functions up from its baseline compiler), then size a sample to sampleMs.
  const warmUntil = performance.now() + sampleMs * 20;
  while (performance.now() < warmUntil) pass(hosts[0]), pass(hosts[1]);
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) pass(hosts[0]);
    if (performance.now() - t0 >= sampleMs) break;
    reps *= 2;
  }
  const sample = (host: Host) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) pass(host);
    return (performance.now() - t0) / reps / 1000;
  };
  const times: [number[], number[]] = [[], []];
  const ratios: number[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const [plain, instrumented] = pair % 2 ? [sample(hosts[0]), sample(hosts[1])] : [sample(hosts[1]), sample(hosts[0])].reverse();
    times[0].push(plain);
    times[1].push(instrumented);
    ratios.push(instrumented / plain);
  }
  const counting = new Host(metered, config, 0);
  counting.ticks = 0;
  pass(counting);
  return { plain: median(times[0]), metered: median(times[1]), ratio: median(ratios), checks: counting.ticks / inputs.length };
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const pairs = quick ? 4 : 201;
const sampleMs = quick ? 1 : 4;
const figures: Record<string, number> = { fuelPerRefill: FUEL };

// 1. Loops.
const loopRows: Cell[][] = [];
const payload = new Uint8Array(100).fill(7);
for (const [name, key, text] of [['FNV-1a, 1000 rounds over 100 B (loop-heavy step)', 'loopHeavy', FNV], ['empty countdown loop, 100,000 iterations (worst case)', 'countdown', COUNTDOWN]] as const) {
  const c = compare(watBytes(text), [payload], undefined, pairs, sampleMs);
  loopRows.push([name, r2(c.plain * 1e6), r2(c.metered * 1e6), r2(c.ratio), Math.round(c.checks)]);
  figures[`${key}Ratio`] = r2(c.ratio);
}

// 2. The example steps, with the inputs of their tests.
const EXAMPLE_INPUTS: [string, unknown, string[]][] = [
  ['threshold-alarm', { field: 'temp', threshold: 80, hysteresis: 2 }, ['{"temp": 70}', '{"temp": 80.5, "unit": "C"}', '{"temp": 90}', '{"temp": 79}', '{"humidity": 3}', '{"temp": 77.5}']],
  ['moving-average', { field: 'v', window: 10 }, Array.from({ length: 8 }, (_, i) => `{"v":${i * 13},"pad":"${'x'.repeat(80)}"}`)],
  ['csv-to-json', undefined, ['time,sensor,value,note', '1700000000,t1,21.5,"said ""hi"", twice"', '1700000001,t2,-3,', '1700000002,"t,3",1e3,007']],
  ['synthetic-sensor', { field: 'temp', seed: 3 }, Array.from({ length: 8 }, (_, i) => `{"cron":${i}}`)],
];
const exampleRows: Cell[][] = [];
const exampleRatios: number[] = [];
for (const [name, config, lines] of EXAMPLE_INPUTS) {
  const { bytes } = await exampleStep(name);
  const inputs = lines.map(utf8);
  const c = compare(bytes, inputs, config, pairs, sampleMs);
  exampleRows.push([name, r2((c.plain / inputs.length) * 1e6), r2((c.metered / inputs.length) * 1e6), r2(c.ratio), Math.round(c.checks)]);
  exampleRatios.push(c.ratio);
}
figures.examplesWorstRatio = r2(Math.max(...exampleRatios));
figures.examplesMedianRatio = r2(median(exampleRatios));

// 3. Interruption: an infinite loop, a throwing tick at a 50 ms deadline; how late the call ends.
const BUDGET_MS = 50;
const spin = new WebAssembly.Module(meter(watBytes(SPIN)));
const late: number[] = [];
const tickGaps: number[] = [];
for (let i = 0; i < (quick ? 3 : 30); i++) {
  const host = new Host(spin);
  const t0 = performance.now();
  host.deadline = t0 + BUDGET_MS;
  try {
    host.process(utf8('L'));
    throw new Error('the infinite loop returned');
  } catch (err) {
    if (!(err instanceof Deadline)) throw err;
  }
  const end = performance.now();
  late.push(end - host.deadline);
  tickGaps.push((end - t0) / host.ticks);
}
figures.interruptLateP50Ms = r2(quantile(late, 0.5));
figures.interruptLateP99Ms = r2(quantile(late, 0.99));
figures.msBetweenTicks = Math.round(median(tickGaps) * 1000) / 1000;

// 4. The rewrite: every example at the default build and at -O0 (the largest), ms per KB.
const rewriteRows: Cell[][] = [];
let totalBytes = 0;
let totalMs = 0;
for (const name of EXAMPLE_INPUTS.map(([n]) => n)) {
  for (const level of [undefined, '-O0']) {
    const { bytes } = await exampleStep(name, level);
    const reps = quick ? 5 : 50;
    meter(bytes);
    const samples: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      meter(bytes);
      samples.push(performance.now() - t0);
    }
    const ms = median(samples);
    totalBytes += bytes.length;
    totalMs += ms;
    rewriteRows.push([`${name} ${level ?? '(default -O3s)'}`, r2(bytes.length / 1024), r2(meter(bytes).length / bytes.length), Math.round(ms * 1000) / 1000]);
  }
}
figures.rewriteMsPerKB = Math.round((totalMs / (totalBytes / 1024)) * 1000) / 1000;

report({
  bench: 'metering',
  tables: [
    {
      title: 'Metering: loops (µs per call, in this thread)',
      columns: ['step', 'original', 'metered', 'metered / original', 'checks per call'],
      rows: loopRows,
      note: `Baseline: the same module unmetered, same run; medians of ${pairs} alternating pairs of ${sampleMs} ms samples. Fuel ${FUEL.toLocaleString('en')} per refill. Checks per call: how many fuel checks ran (counted with a tick that refills nothing). Target for the loop-heavy step: <= 2x.`,
    },
    {
      title: 'Metering: example steps (µs per message)',
      columns: ['step', 'original', 'metered', 'metered / original', 'checks per message'],
      rows: exampleRows,
      note: "examples/steps as built by `flotilla step build` (asc -O3s), with inputs like their tests'. Target: <= 1.2x.",
    },
    {
      title: 'Metering: an infinite loop interrupted by a throwing tick',
      columns: ['deadline', 'calls', 'late p50 ms', 'late p99 ms', 'late max ms', 'ms between ticks'],
      rows: [[`${BUDGET_MS} ms`, late.length, figures.interruptLateP50Ms, figures.interruptLateP99Ms, r2(Math.max(...late)), figures.msBetweenTicks]],
      note: 'How long after the deadline the call threw, in the same thread; the time between ticks (one per refill of fuel) bounds it on an idle machine, the rest is waiting for a core.',
    },
    {
      title: 'Metering: the rewrite',
      columns: ['module', 'KB', 'size after / before', 'ms (median)'],
      rows: rewriteRows,
      note: `${figures.rewriteMsPerKB} ms per KB over these modules (once per module: the result is cached with the compiled module).`,
    },
  ],
  figures,
});
