/**
 * Step runtime throughput, latency and memory (issue 3). One trivial step (echo: emits each input unchanged),
 * for 100-byte and 4 KiB messages, measured in one run:
 *   - baseline: raw in-thread Wasm calls doing the same host work (alloc, copy in, process, copy the emit out);
 *   - Flotilla: messages in and out of the step's isolate through StepHandle (micro-batched);
 *   - p50/p99 latency push -> output at a steady 10,000 messages/s;
 *   - agent RSS with 1 and 10 steps loaded.
 * Targets: >= 1,000,000 msg/s for 100 B through one step; p99 < 5 ms at 10k msg/s.
 * Run: `npm run build && node dist/bench/runtime.js` (or `npm run bench` for every bench).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { StepRuntime, type LoadedStep, type StepHandle } from '../agent/runtime/index.js';
import { manifestFor } from '../shared/step-manifest.js';

const wabt = await wabtInit();
const parsed = wabt.parseWat('echo.wat', readFileSync(fileURLToPath(new URL('../../test/fixtures/wat/echo.wat', import.meta.url)), 'utf8'));
const wasm = parsed.toBinary({}).buffer;
parsed.destroy();

// No spare isolate: the RSS rows count steps only (the spare's cost is measured in bench/restart-latency.ts).
const runtime = new StepRuntime();
const step = await runtime.load(wasm, manifestFor(wasm, { name: 'echo', version: '1', limits: { maxOutputBytes: 1 << 20 } }));

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Baseline: the same module and host work in this thread, no isolate. */
function rawRate(size: number, count: number): number {
  let memory!: { buffer: ArrayBuffer };
  let outBytes = 0;
  const sink = new Uint8Array(1 << 20);
  const exports = new WebAssembly.Instance(step.module, {
    flotilla: {
      emit(ptr: number, len: number) {
        sink.set(new Uint8Array(memory.buffer, ptr, len), 0);
        outBytes += len;
      },
    },
  }).exports as { memory: { buffer: ArrayBuffer }; alloc(n: number): number; process(p: number, n: number): number };
  memory = exports.memory;
  const payload = new Uint8Array(size).fill(7);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const ptr = exports.alloc(size);
    new Uint8Array(memory.buffer).set(payload, ptr);
    exports.process(ptr, size);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (outBytes !== size * count) throw new Error('baseline lost output');
  return count / seconds;
}

async function started(onOutput: (payload: Uint8Array) => void = () => {}): Promise<StepHandle> {
  return runtime.start({ id: 'echo', step: step as LoadedStep, onOutput, maxQueued: 1_000_000, maxQueuedBytes: 256 << 20 });
}

/** Flotilla: pushes as fast as the queue allows (at most `window` waiting), until every output came back. */
async function runtimeRate(size: number, count: number): Promise<number> {
  let outs = 0;
  const handle = await started(() => outs++);
  const payload = new Uint8Array(size).fill(7);
  const window = Math.max(2048, Math.floor((8 << 20) / size));
  let sent = 0;
  const t0 = performance.now();
  while (outs < count) {
    while (sent < count && sent - outs < window) {
      handle.push(payload);
      sent++;
    }
    await tick();
  }
  const seconds = (performance.now() - t0) / 1000;
  await handle.stop();
  return count / seconds;
}

/** Latency of each message from push to its output at a steady `rate`, for `seconds`. */
async function latency(size: number, rate: number, seconds: number): Promise<{ p50: number; p99: number; max: number }> {
  const total = rate * seconds;
  const sentAt = new Float64Array(total);
  const lat: number[] = [];
  const handle = await started((payload) => {
    const seq = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
    lat.push(performance.now() - sentAt[seq]);
  });
  const payload = new Uint8Array(size);
  const view = new DataView(payload.buffer);
  const t0 = performance.now();
  let sent = 0;
  while (lat.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    for (; sent < due; sent++) {
      view.setUint32(0, sent, true);
      sentAt[sent] = performance.now();
      handle.push(payload);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  await handle.stop();
  lat.sort((a, b) => a - b);
  const at = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  return { p50: at(0.5), p99: at(0.99), max: lat[lat.length - 1] };
}

async function rss(): Promise<{ base: number; one: number; ten: number }> {
  const mb = () => process.memoryUsage().rss / 2 ** 20;
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
    return mb();
  };
  const base = await settle();
  const handles = [await started()];
  const one = await settle();
  for (let i = 1; i < 10; i++) handles.push(await started());
  const ten = await settle();
  await Promise.all(handles.map((h) => h.stop()));
  return { base, one, ten };
}

// Memory first, while the agent process is fresh; then throughput and latency.
const mem = await rss();
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rows: string[][] = [['message', 'raw in-thread (msg/s)', 'Flotilla step (msg/s)', 'ratio', 'Flotilla MB/s in']];
for (const [label, size, count] of [['100 B', 100, 3_000_000], ['4 KiB', 4096, 300_000]] as const) {
  rawRate(size, count / 10); // warm up the JIT
  await runtimeRate(size, count / 10);
  const raw = rawRate(size, count);
  const flotilla = await runtimeRate(size, count);
  rows.push([label, fmt(raw), fmt(flotilla), `${((flotilla / raw) * 100).toFixed(1)} %`, fmt((flotilla * size) / 2 ** 20)]);
}
const lat = await latency(100, 10_000, 5);

const width = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
console.log('Step runtime: echo step, one isolate, micro-batched (Node ' + process.version + ', ' + process.arch + ')\n');
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(width[c]) : cell.padStart(width[c]))).join('  '));
console.log(`\nlatency push -> output, 100 B at 10,000 msg/s for 5 s: p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms, max ${lat.max.toFixed(2)} ms`);
console.log(`agent RSS: ${mem.base.toFixed(1)} MB before steps, ${mem.one.toFixed(1)} MB with 1 step (+${(mem.one - mem.base).toFixed(1)}), ${mem.ten.toFixed(1)} MB with 10 steps (+${((mem.ten - mem.base) / 10).toFixed(1)} per step)`);
