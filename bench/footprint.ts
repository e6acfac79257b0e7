/**
 * Footprint of the flashable agent (issue 6): artifact size per target (raw and xz), start-up time to "joined" and
 * idle RSS of a native x64 agent with 0, 1 and 5 steps loaded, under a few V8 memory flags. Baselines measured in the
 * same run: a bare Node process (start-up and idle RSS floor of anything written for Node).
 * Run: `npm run build:targets && node dist/bench/footprint.js [runs]`.
 *
 * The 1- and 5-step rows run the agent from dist/ (same code as the artifact, the host's Node 20) with N step
 * isolates started through the agent's StepRuntime in the same process: the agent cannot yet be told to deploy
 * steps over MQTT, so the artifact row is measured with 0 steps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent } from '../agent/agent.js';
import { StepRuntime } from '../agent/runtime/index.js';
import type { BuiltTarget } from '../firmware-targets/build.js';
import { createLogger } from '../shared/log.js';
import { parseStepManifest } from '../shared/step-manifest.js';

const SELF = fileURLToPath(import.meta.url);
const MB = 1024 * 1024;

/** Child mode: the agent plus `steps` idle step isolates in one process; prints {"event":"ready"} when all run. */
async function child(url: string, id: string, token: string, dataDir: string, steps: number, wasmPath: string): Promise<void> {
  await Agent.start({ coordinatorUrl: url, id, token, dataDir, healthIntervalS: 1, target: 'bench', log: createLogger(id, 'error') });
  const runtime = new StepRuntime();
  const bytes = readFileSync(wasmPath);
  const step = await runtime.load(bytes, parseStepManifest(JSON.parse(readFileSync(wasmPath.replace(/\.wasm$/, '.manifest.json'), 'utf8'))));
  for (let i = 0; i < steps; i++) {
    const handle = await runtime.start({ id: `s${i}`, step, config: { field: 'temp', window: 5 } });
    handle.push(Buffer.from('{"temp":21.5}'));
  }
  console.log(JSON.stringify({ event: 'joined' }));
}

interface Spawned {
  proc: ChildProcess;
  ms: number;
}

/** Spawn and resolve at the first stdout line holding `"event":"joined"` (or at exit, for the floor baseline). */
function spawnUntilJoined(cmd: string, args: string[], env: NodeJS.ProcessEnv, untilExit = false): Promise<Spawned> {
  const t0 = performance.now();
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b) => (stderr += b));
  return new Promise((resolve, reject) => {
    if (untilExit) proc.once('exit', () => resolve({ proc, ms: performance.now() - t0 }));
    else proc.once('exit', (code) => reject(new Error(`${cmd} exited with ${code} before joining: ${stderr}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"event":"joined"')) resolve({ proc, ms: performance.now() - t0 });
    });
  });
}

/**
 * RSS and its private part (RssAnon: heaps, stacks, malloc). The rest (RssFile) is clean pages of the executable
 * mapped from disk, which the kernel shares between processes and can drop under memory pressure.
 */
function rss(pid: number): { total: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { total: kb('VmRSS'), anon: kb('RssAnon') };
}

/** Idle RSS: sampled every 200 ms over 4 s after start-up; the median of the last 2 s (GC has settled by then). */
async function idleRss(pid: number): Promise<{ total: number; anon: number }> {
  const samples: { total: number; anon: number }[] = [];
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 200));
    samples.push(rss(pid));
  }
  const settled = samples.slice(10);
  return { total: median(settled.map((s) => s.total)), anon: median(settled.map((s) => s.anon)) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stop = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM'))));

async function main(runs: number): Promise<void> {
  // Imported here, not at the top: the child mode (the process being measured) must load only what an agent loads.
  const { ApiClient } = await import('../cli/api-client.js');
  const { FLOTILLA_MAIN } = await import('../cli/processes.js');
  const { buildStep } = await import('../cli/step-build.js');
  const { Coordinator } = await import('../coordinator/index.js');
  const { OUT_ROOT, TARGETS_DIR } = await import('../firmware-targets/build.js');
  const { loadTargets } = await import('../firmware-targets/descriptor.js');
  const { artifactLayout } = await import('../firmware-targets/launch.js');
  const built: BuiltTarget[] = JSON.parse(readFileSync(`${OUT_ROOT}/targets.json`, 'utf8'));
  console.log('Artifact size per target (dist/targets/<target>/)');
  console.log('| target | kind | raw MB | xz MB | xz / raw |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const b of built) console.log(`| ${b.name} | ${b.kind} | ${(b.rawBytes / MB).toFixed(1)} | ${(b.xzBytes / MB).toFixed(1)} | ${(b.xzBytes / b.rawBytes).toFixed(2)} |`);

  const work = mkdtempSync('/tmp/flotilla-footprint-');
  const coordinator = await Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: `${work}/coordinator`, cluster: 'bench', log: createLogger('coordinator', 'error') });
  const url = `mqtt://127.0.0.1:${coordinator.mqttPort}`;
  const api = new ApiClient(`http://127.0.0.1:${coordinator.httpPort}`);
  const x64 = loadTargets(TARGETS_DIR).find((t) => t.name === 'linux-x64')!;
  const sea = artifactLayout(x64, OUT_ROOT).executable;
  const { wasmPath } = await buildStep(fileURLToPath(new URL('../../examples/steps/moving-average', import.meta.url)), `${work}/step`);
  let n = 0;
  const agentArgs = async () => {
    const id = `fp-${n++}`;
    const { token } = await api.enroll(id);
    return ['--coordinator', url, '--id', id, '--token', token, '--data-dir', `${work}/${id}`, '--health-interval', '1', '--log-level', 'error'];
  };

  // Start-up: spawn to "joined" (connected to the coordinator), native x64.
  const startups: [string, number][] = [];
  const time = async (label: string, make: () => Promise<Spawned>) => {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const s = await make();
      ms.push(s.ms);
      await stop(s.proc);
    }
    startups.push([label, median(ms)]);
  };
  await time('node -e "" (baseline: bare Node start and exit)', () => spawnUntilJoined(process.execPath, ['-e', ''], process.env, true));
  await time('artifact linux-x64 (SEA)', async () => spawnUntilJoined(sea, await agentArgs(), process.env));
  await time('node dist/cli/main.js agent (from source build)', async () => spawnUntilJoined(process.execPath, [FLOTILLA_MAIN, 'agent', ...(await agentArgs())], process.env));
  console.log(`\nStart-up to "joined", native x64, median of ${runs}`);
  console.log('| process | ms | ratio to baseline |');
  console.log('| --- | ---: | ---: |');
  for (const [label, ms] of startups) console.log(`| ${label} | ${ms.toFixed(0)} | ${(ms / startups[0][1]).toFixed(1)}x |`);

  // Idle RSS under V8 flag sets (NODE_OPTIONS applies to the SEA too).
  const flagSets = ['', '--max-semi-space-size=1', '--max-semi-space-size=1 --max-old-space-size=32'];
  console.log('\nIdle RSS in MB, total (private), native x64; columns are NODE_OPTIONS');
  console.log(`| process | ${flagSets.map((f) => f || '(none)').join(' | ')} |`);
  console.log(`| --- | ${flagSets.map(() => '---:').join(' | ')} |`);
  const rows: [string, () => Promise<[string, string[]]>][] = [
    ['bare Node, idle timer (baseline)', async () => [process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log(JSON.stringify({ event: "joined" }))']]],
    ['artifact linux-x64 (SEA), 0 steps', async () => [sea, await agentArgs()]],
    ...[0, 1, 5].map((steps): [string, () => Promise<[string, string[]]>] => [
      `agent + ${steps} step${steps === 1 ? '' : 's'} (dist, Node ${process.versions.node})`,
      async () => {
        const id = `fp-${n++}`;
        const { token } = await api.enroll(id);
        return [process.execPath, [SELF, '--child', url, id, token, `${work}/${id}`, String(steps), wasmPath]];
      },
    ]),
  ];
  for (const [label, make] of rows) {
    const cells: string[] = [];
    for (const flags of flagSets) {
      const [cmd, args] = await make();
      const s = await spawnUntilJoined(cmd, args, { ...process.env, NODE_OPTIONS: flags });
      const m = await idleRss(s.proc.pid!);
      cells.push(`${(m.total / MB).toFixed(1)} (${(m.anon / MB).toFixed(1)})`);
      await stop(s.proc);
    }
    console.log(`| ${label} | ${cells.join(' | ')} |`);
  }
  await coordinator.stop();
  rmSync(work, { recursive: true, force: true });
}

if (process.argv[2] === '--child') {
  const [url, id, token, dir, steps, wasm] = process.argv.slice(3);
  await child(url, id, token, dir, Number(steps), wasm);
} else {
  await main(Number(process.argv[2] ?? 5));
}
