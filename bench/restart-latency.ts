/**
 * Restart latency: from delivering `crash` to a supervised step (it traps) until the restarted step has processed the
 * next message, through SupervisorRunner and real isolates. Baselines measured in the same run: a message round trip
 * through a running step (no restart), and a bare `StepRuntime.start` (a fresh isolate, no supervisor).
 * Target (issue 4): p50 < 5 ms, p99 < 20 ms. Run: `npm run build && node dist/bench/restart-latency.js [iterations]`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { StepRuntime } from '../agent/runtime/index.js';
import { SupervisorRunner } from '../agent/supervisor/index.js';
import { manifestFor } from '../shared/step-manifest.js';
import { parseSupervisorSpec } from '../shared/supervisor-spec.js';

const iterations = Number(process.argv[2] ?? 200);
const watPath = fileURLToPath(new URL('../../test/fixtures/wat/supervised-crashy.wat', import.meta.url));
const wabt = await wabtInit();
const parsed = wabt.parseWat('supervised-crashy.wat', readFileSync(watPath, 'utf8'));
const wasm = parsed.toBinary({}).buffer;
parsed.destroy();

const runtime = new StepRuntime();
const step = await runtime.load(wasm, manifestFor(wasm, { name: 'crashy', version: '1' }));

let onOutput: (() => void) | undefined;
let onTerminated: (() => void) | undefined;
const runner = new SupervisorRunner(
  parseSupervisorSpec({ id: 'bench', intensity: 1_000_000, period: 1, children: [{ id: 'a', step: 'crashy@1', output: 'o' }] }),
  {
    runtime,
    resolveStep: async () => step,
    onOutput: () => onOutput?.(),
    onEvent: ({ event }) => event.type === 'child_terminated' && onTerminated?.(),
  },
);
await runner.start();

const text = (s: string) => new TextEncoder().encode(s);
const nextOutput = () => new Promise<void>((resolve) => (onOutput = resolve));
const nextTermination = () => new Promise<void>((resolve) => (onTerminated = resolve));

async function measure(n: number, once: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n + 10; i++) {
    const t0 = performance.now();
    await once();
    if (i >= 10) times.push(performance.now() - t0); // the first 10 warm up
  }
  return times.sort((a, b) => a - b);
}

const roundTrip = await measure(iterations, async () => {
  const out = nextOutput();
  runner.deliver('bench/a', text('ping'));
  await out;
});

const restart = await measure(iterations, async () => {
  const out = nextOutput();
  const terminated = nextTermination();
  runner.deliver('bench/a', text('crash'));
  await terminated;
  // Arrives while the step restarts: buffered, processed by the new instance.
  runner.deliver('bench/a', text('ping'));
  await out;
});

const bareStart = await measure(iterations, async () => {
  const handle = await runtime.start({ id: 'bare', step });
  await handle.stop('brutal_kill');
});

await runner.stop();

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const rows = [
  ['message round trip, running step (baseline)', roundTrip],
  ['bare isolate start + kill, no supervisor (baseline)', bareStart],
  ['crash -> restarted step processed next message', restart],
] as const;
const fmt = (x: number) => x.toFixed(2).padStart(8);
console.log(`restart latency, ${iterations} iterations, node ${process.version}, ${process.arch}`);
console.log(`${'measure'.padEnd(52)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'p50 / round trip'.padStart(17)}`);
for (const [name, xs] of rows) {
  console.log(`${name.padEnd(52)} ${fmt(pct(xs, 50))} ${fmt(pct(xs, 99))} ${(pct(xs, 50) / pct(roundTrip, 50)).toFixed(1).padStart(16)}x`);
}
const health = runner.health()[0];
console.log(`restarts recorded: ${health.restarts}; target p50 < 5 ms, p99 < 20 ms`);
