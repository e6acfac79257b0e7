/**
 * Restart latency: from delivering `crash` to a supervised step (it traps) until the restarted step has processed the
 * next message, through SupervisorRunner and a real step host (the default one, in the agent's thread). A restart is a
 * new instance of the cached module in the running host. Rows: with the host idle between crashes, back to back (crash again as soon as the step runs),
 * and with nine busy siblings in the same host. Baselines measured in the same run: a message round trip through a
 * running step, a bare `start` + kill in the running host, and a start in a new host (a thread spawn: what every
 * restart cost before hosts, without a warm spare).
 * Target (issue 13): crash → processing again p50 ≤ 0.3 ms, p99 ≤ 2 ms, also back to back.
 * Run: `npm run build && node dist/bench/restart-latency.js [--quick]`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { StepRuntime, type LoadedStep } from '../agent/runtime/index.js';
import { SupervisorRunner } from '../agent/supervisor/index.js';
import { manifestFor } from '../shared/step-manifest.js';
import { parseSupervisorSpec } from '../shared/supervisor-spec.js';
import { quick, report } from './report.js';

const ITERATIONS = quick ? 20 : 300;
const wabt = await wabtInit();
const parsed = wabt.parseWat('supervised-crashy.wat', readFileSync(fileURLToPath(new URL('../../test/fixtures/wat/supervised-crashy.wat', import.meta.url)), 'utf8'));
const wasm = parsed.toBinary({}).buffer;
parsed.destroy();
const text = (s: string) => new TextEncoder().encode(s);

const runtime = new StepRuntime();
const step = await runtime.load(wasm, manifestFor(wasm, { name: 'crashy', version: '1' }));

/** A tree of `siblings + 1` crashy steps; `crashAndPing` times crash -> the restarted step's output for the next message. */
async function supervised(siblings: number) {
  let onOutput: (() => void) | undefined;
  let onTerminated: (() => void) | undefined;
  const children = [{ id: 'a', step: 'crashy@1', output: 'o' }, ...Array.from({ length: siblings }, (_, i) => ({ id: `s${i}`, step: 'crashy@1' }))];
  const runner = new SupervisorRunner(parseSupervisorSpec({ id: 'bench', intensity: 1_000_000, period: 1, children }), {
    runtime,
    resolveStep: async () => step as LoadedStep,
    onOutput: (path) => path === 'bench/a' && onOutput?.(),
    onEvent: ({ event }) => event.type === 'child_terminated' && onTerminated?.(),
  });
  await runner.start();
  const nextOutput = () => new Promise<void>((resolve) => (onOutput = resolve));
  return {
    runner,
    async ping() {
      const out = nextOutput();
      runner.deliver('bench/a', text('ping'));
      await out;
    },
    async crashAndPing() {
      const out = nextOutput();
      const terminated = new Promise<void>((resolve) => (onTerminated = resolve));
      // The siblings get a message each, so the host has other work in hand as the step crashes.
      for (let i = 0; i < siblings; i++) runner.deliver(`bench/s${i}`, text('ping'));
      runner.deliver('bench/a', text('crash'));
      await terminated;
      // Arrives while the step restarts: buffered, processed by the new instance.
      runner.deliver('bench/a', text('ping'));
      await out;
    },
  };
}

const idle = () => new Promise<void>((r) => setTimeout(r, 2));

/** Times `once` n times after 10 warm-up runs; `prepare` runs untimed before each. */
async function measure(once: () => Promise<void>, prepare?: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS + 10; i++) {
    await prepare?.();
    const t0 = performance.now();
    await once();
    if (i >= 10) times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

const startKill = (on: () => { runtime: StepRuntime; step: LoadedStep }) => async () => {
  const handle = await on().runtime.start({ id: 'bare', step: on().step });
  await handle.stop('brutal_kill');
};
/** A runtime with no worker host yet (prepared untimed, module compiled), so its first start spawns one. */
let empty = { runtime, step };
const prepareEmpty = async () => {
  if (empty.runtime !== runtime) await empty.runtime.stop();
  const r = new StepRuntime({ inThread: false });
  empty = { runtime: r, step: await r.load(wasm, step.manifest) };
};

const alone = await supervised(0);
const crowded = await supervised(9);
const spawnedBefore = runtime.hosts().spawned;
const rows: [string, number[]][] = [
  ['message round trip, running step (baseline)', await measure(alone.ping)],
  ['start in a new host: a thread spawn (baseline: a restart before hosts)', await measure(startKill(() => empty), prepareEmpty)],
  ['bare start + kill in the running host', await measure(startKill(() => ({ runtime, step })))],
  ['crash -> processing again, host idle before each crash', await measure(alone.crashAndPing, idle)],
  ['crash -> processing again, back to back', await measure(alone.crashAndPing)],
  ['crash -> processing again, back to back, 9 busy siblings in the host', await measure(crowded.crashAndPing)],
];
const spawned = runtime.hosts().spawned - spawnedBefore;
await Promise.all([alone.runner.stop(), crowded.runner.stop()]);
await Promise.all([runtime.stop(), empty.runtime.stop()]);

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x: number) => x.toFixed(3);
const base = pct(rows[0][1], 50);
const [, , , restart, backToBack, crowdedRun] = rows.map(([, xs]) => xs);
report({
  bench: 'restart-latency',
  tables: [
    {
      title: `Restart latency, ${ITERATIONS} iterations after 10 warm-up (Node ${process.version}, ${process.arch})`,
      columns: ['measure', 'p50 ms', 'p99 ms', 'p50 / round trip'],
      rows: rows.map(([name, xs]) => [name, ms(pct(xs, 50)), ms(pct(xs, 99)), `${(pct(xs, 50) / base).toFixed(1)}x`]),
      note: `Target: crash -> processing again p50 <= 0.3 ms, p99 <= 2 ms, also back to back. Threads spawned by the restarts: ${spawned}.`,
    },
  ],
  figures: {
    roundTripP50Ms: base,
    restartP50Ms: pct(restart, 50),
    restartP99Ms: pct(restart, 99),
    backToBackP50Ms: pct(backToBack, 50),
    backToBackP99Ms: pct(backToBack, 99),
    crowdedP50Ms: pct(crowdedRun, 50),
    crowdedP99Ms: pct(crowdedRun, 99),
    newHostStartP50Ms: pct(rows[1][1], 50),
  },
});
