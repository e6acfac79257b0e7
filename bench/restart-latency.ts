/**
 * Restart latency: from delivering `crash` to a supervised step (it traps) until the restarted step has processed the
 * next message, through SupervisorRunner and real isolates, with a warm spare isolate (the runtime's default pool of
 * one) and without (spares: 0). Baselines measured in the same run: a message round trip through a running step, and
 * a bare `StepRuntime.start` + kill from a fresh isolate and from a warm spare. The spare's price is memory: idle RSS
 * of a process running one step with 0 and 1 spare, in child processes under the agent service's V8 flags.
 * Target (issue 4): p50 < 5 ms, p99 < 20 ms. Run: `npm run build && node dist/bench/restart-latency.js [iterations]`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { StepRuntime } from '../agent/runtime/index.js';
import { manifestFor } from '../shared/step-manifest.js';

const SELF = fileURLToPath(import.meta.url);
const MB = 1024 * 1024;
/** The installed agent service's flags (bench/README.md, footprint). */
const SERVICE_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=32';

/** Child mode: a runtime with `spares` running `steps` idle steps; prints `ready` once the spares have booted. */
async function idleChild(wasmPath: string, spares: number, steps: number): Promise<void> {
  const runtime = new StepRuntime({ spares });
  const bytes = readFileSync(wasmPath);
  const step = await runtime.load(bytes, manifestFor(bytes, { name: 'crashy', version: '1' }));
  for (let i = 0; i < steps; i++) (await runtime.start({ id: `s${i}`, step })).push(Buffer.from('ping'));
  await runtime.sparesReady();
  console.log('ready');
  setInterval(() => {}, 1000);
}

async function main(iterations: number): Promise<void> {
  // Imported here: the idle child (a process being measured) loads only the runtime.
  const { default: wabtInit } = await import('wabt');
  const { SupervisorRunner } = await import('../agent/supervisor/index.js');
  const { parseSupervisorSpec } = await import('../shared/supervisor-spec.js');
  const { idleRss } = await import('./proc-rss.js');

  const wabt = await wabtInit();
  const parsed = wabt.parseWat('supervised-crashy.wat', readFileSync(fileURLToPath(new URL('../../test/fixtures/wat/supervised-crashy.wat', import.meta.url)), 'utf8'));
  const wasm = parsed.toBinary({}).buffer;
  parsed.destroy();
  const text = (s: string) => new TextEncoder().encode(s);

  /** One crashy step under a runner; `crashAndPing` times crash -> restarted step's output for the next message. */
  async function supervised(runtime: StepRuntime) {
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
    const nextOutput = () => new Promise<void>((resolve) => (onOutput = resolve));
    return {
      runner,
      step,
      async ping() {
        const out = nextOutput();
        runner.deliver('bench/a', text('ping'));
        await out;
      },
      async crashAndPing() {
        const out = nextOutput();
        const terminated = new Promise<void>((resolve) => (onTerminated = resolve));
        runner.deliver('bench/a', text('crash'));
        await terminated;
        // Arrives while the step restarts: buffered, processed by the new instance.
        runner.deliver('bench/a', text('ping'));
        await out;
      },
    };
  }

  /** Times `once` n times after 10 warm-up runs; `prepare` runs untimed before each. */
  async function measure(n: number, once: () => Promise<void>, prepare?: () => Promise<void>): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < n + 10; i++) {
      await prepare?.();
      const t0 = performance.now();
      await once();
      if (i >= 10) times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b);
  }

  const cold = new StepRuntime({ spares: 0 });
  const pooled = new StepRuntime({ spares: 1 });
  const coldTree = await supervised(cold);
  const pooledTree = await supervised(pooled);
  const warm = () => pooled.sparesReady();
  const startKill = (runtime: StepRuntime, step: Awaited<ReturnType<typeof supervised>>['step']) => async () => {
    const handle = await runtime.start({ id: 'bare', step });
    await handle.stop('brutal_kill');
  };

  const before = pooled.isolates();
  const rows: [string, number[]][] = [
    ['message round trip, running step (baseline)', await measure(iterations, pooledTree.ping)],
    ['bare start + kill, fresh isolate (baseline)', await measure(iterations, startKill(cold, coldTree.step))],
    ['bare start + kill, warm spare', await measure(iterations, startKill(pooled, pooledTree.step), warm)],
    ['crash -> processing again, spares: 0 (baseline)', await measure(iterations, coldTree.crashAndPing)],
    ['crash -> processing again, 1 warm spare', await measure(iterations, pooledTree.crashAndPing, warm)],
    ['crash -> processing again, 1 spare, back to back', await measure(iterations, pooledTree.crashAndPing)],
  ];
  const after = pooled.isolates();
  await Promise.all([coldTree.runner.stop(), pooledTree.runner.stop()]);
  await Promise.all([cold.stop(), pooled.stop()]);

  const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
  const fmt = (x: number) => x.toFixed(2).padStart(8);
  const base = pct(rows[0][1], 50);
  console.log(`restart latency, ${iterations} iterations, node ${process.version}, ${process.arch}`);
  console.log(`${'measure'.padEnd(52)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'p50 / round trip'.padStart(17)}`);
  for (const [name, xs] of rows) console.log(`${name.padEnd(52)} ${fmt(pct(xs, 50))} ${fmt(pct(xs, 99))} ${(pct(xs, 50) / base).toFixed(1).padStart(16)}x`);
  console.log(`pooled runtime: ${after.fromSpare - before.fromSpare} starts from a spare, ${after.cold - before.cold} cold; target p50 < 5 ms, p99 < 20 ms`);

  // The spare's memory: idle RSS of a process with one running step, with and without a spare.
  const work = mkdtempSync('/tmp/flotilla-restart-');
  const wasmPath = `${work}/crashy.wasm`;
  writeFileSync(wasmPath, wasm);
  console.log(`\nidle RSS in MB, total (private), NODE_OPTIONS=${SERVICE_NODE_OPTIONS}`);
  for (const [label, spares, steps] of [
    ['runtime, 0 steps (no spare until a step runs)', 1, 0],
    ['runtime, 1 step, spares: 0', 0, 1],
    ['runtime, 1 step, spares: 1 (default)', 1, 1],
  ] as const) {
    const child = spawn(process.execPath, [SELF, '--idle', wasmPath, String(spares), String(steps)], {
      env: { ...process.env, NODE_OPTIONS: SERVICE_NODE_OPTIONS },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`idle child exited with ${code}`)));
      createInterface({ input: child.stdout! }).once('line', () => resolve());
    });
    const m = await idleRss(child.pid!);
    child.removeAllListeners('exit');
    child.kill();
    console.log(`${label.padEnd(52)} ${(m.total / MB).toFixed(1).padStart(8)} (${(m.anon / MB).toFixed(1)})`);
  }
  rmSync(work, { recursive: true, force: true });
}

if (process.argv[2] === '--idle') await idleChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await main(Number(process.argv[2] ?? 200));
