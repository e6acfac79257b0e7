/**
 * Footprint of the flashable agent (issues 6 and 13): artifact size per target (raw and xz), start-up time to
 * "joined", and idle RSS (total and private) of the native linux-x64 SEA agent with 0, 1, 5, 10 and 50 steps
 * deployed, under the installed service's V8 flags and a few alternatives. Baseline measured in the same run: a bare
 * Node process (the start-up and RSS floor of anything written for Node).
 * Target (issue 13): 10 idle steps on the SEA, total RSS ≤ 60 MB and private (RssAnon) ≤ 25 MB.
 * Run: `npm run build && node dist/firmware-targets/build.js linux-x64 && node dist/bench/footprint.js`.
 * `--quick` runs the agent from dist/ (no SEA needed), 0 and 10 steps, one run each.
 *
 * Steps are deployed the way a fleet does it: the module pushed to the coordinator's registry, a supervisor spec
 * with N moving-average workers applied to the device, idle RSS taken once its health reports N children running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../cli/api-client.js';
import { FLOTILLA_MAIN } from '../cli/processes.js';
import { buildStep } from '../cli/step-build.js';
import { Coordinator } from '../coordinator/index.js';
import { OUT_ROOT, TARGETS_DIR, type BuiltTarget } from '../firmware-targets/build.js';
import { loadTargets } from '../firmware-targets/descriptor.js';
import { SERVICE_ENV, SERVICE_NODE_OPTIONS } from '../firmware-targets/kit.js';
import { artifactLayout } from '../firmware-targets/launch.js';
import { createLogger } from '../shared/log.js';
import { idleRss, median } from './proc-rss.js';
import { quick, report, type Cell, type Table } from './report.js';

const MB = 1024 * 1024;
const RUNS = quick ? 1 : 5;
const STEP_COUNTS = quick ? [0, 10] : [0, 1, 5, 10, 50];
/**
 * Columns of the RSS table: the installed service's environment first (the figures), then alternatives beside it.
 * (`--lite-mode` is not among them: in Node 18/20 it implies `--jitless`, which removes WebAssembly.)
 */
const ENVS: [string, NodeJS.ProcessEnv][] = [
  ['service: NODE_OPTIONS + GLIBC_TUNABLES', SERVICE_ENV],
  ...(quick ? [] : ([[`NODE_OPTIONS=${SERVICE_NODE_OPTIONS} only`, { NODE_OPTIONS: SERVICE_NODE_OPTIONS }], ['(none)', {}]] as [string, NodeJS.ProcessEnv][])),
];

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

const stop = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM'))));
const cell = (m: { total: number; anon: number }) => `${(m.total / MB).toFixed(1)} (${(m.anon / MB).toFixed(1)})`;

const tables: Table[] = [];
const figures: Record<string, number> = {};
const x64 = loadTargets(TARGETS_DIR).find((t) => t.name === 'linux-x64')!;
const sea = artifactLayout(x64, OUT_ROOT).executable;
if (!quick && !existsSync(sea)) throw new Error(`no SEA at ${sea}: run node dist/firmware-targets/build.js linux-x64 first (or --quick)`);
/** The agent under test: the SEA, or (quick) the agent from dist/. */
const agentCommand: [string, string[], string] = quick ? [process.execPath, [FLOTILLA_MAIN, 'agent'], 'agent from dist/'] : [sea, [], 'linux-x64 SEA'];

if (!quick && existsSync(`${OUT_ROOT}/targets.json`)) {
  const built: BuiltTarget[] = JSON.parse(readFileSync(`${OUT_ROOT}/targets.json`, 'utf8'));
  tables.push({
    title: 'Artifact size per target (dist/targets/<target>/)',
    columns: ['target', 'kind', 'raw MB', 'xz MB', 'xz / raw'],
    rows: built.map((b) => [b.name, b.kind, (b.rawBytes / MB).toFixed(1), (b.xzBytes / MB).toFixed(1), (b.xzBytes / b.rawBytes).toFixed(2)]),
  });
}

const work = mkdtempSync('/tmp/flotilla-footprint-');
const coordinator = await Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: `${work}/coordinator`, cluster: 'bench', log: createLogger('coordinator', 'error') });
const url = `mqtt://127.0.0.1:${coordinator.mqttPort}`;
const api = new ApiClient(`http://127.0.0.1:${coordinator.httpPort}`);
const { wasmPath, manifest } = await buildStep(fileURLToPath(new URL('../../examples/steps/moving-average', import.meta.url)), `${work}/step`);
await api.pushStep({ name: manifest.name, version: manifest.version, module: readFileSync(wasmPath).toString('base64') });
let n = 0;
let lastId = '';
const agentArgs = async () => {
  const id = (lastId = `fp-${n++}`);
  const { token } = await api.enroll(id);
  return [...agentCommand[1], '--coordinator', url, '--id', id, `--token=${token}`, '--data-dir', `${work}/${id}`, '--health-interval', '1', '--log-level', 'error'];
};
/** Deploy `steps` idle moving-average workers to device `id`; resolves once its health shows them all running. */
const deploy = async (id: string, steps: number) => {
  if (steps === 0) return;
  const children = Array.from({ length: steps }, (_, i) => ({ id: `avg${i}`, step: `${manifest.name}@${manifest.version}`, config: { field: 'temp' }, input: `footprint/${id}/in` }));
  await api.applyDesired({ device: id }, { id: 'footprint', children });
  for (const deadline = Date.now() + 60_000; ; ) {
    const d = (await api.devices()).devices.find((d) => d.id === id);
    if (d && d.children.running === steps && d.children.total === steps) return;
    if (Date.now() > deadline) throw new Error(`${id}: ${steps} steps not running after 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

// Start-up: spawn to "joined" (connected to the coordinator).
const startups: [string, number][] = [];
const time = async (label: string, make: () => Promise<Spawned>) => {
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await make();
    ms.push(s.ms);
    await stop(s.proc);
  }
  startups.push([label, median(ms)]);
};
await time('node -e "" (baseline: bare Node start and exit)', () => spawnUntilJoined(process.execPath, ['-e', ''], process.env, true));
await time(agentCommand[2], async () => spawnUntilJoined(agentCommand[0], await agentArgs(), process.env));
tables.push({
  title: `Start-up to "joined", native x64, median of ${RUNS}`,
  columns: ['process', 'ms', 'ratio to baseline'],
  rows: startups.map(([label, ms]) => [label, ms.toFixed(0), `${(ms / startups[0][1]).toFixed(1)}x`]),
});

// Idle RSS under V8 flag sets (NODE_OPTIONS applies to the SEA too).
const rows: Cell[][] = [];
const bare: [string, string[]] = [process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log(JSON.stringify({ event: "joined" }))']];
const measured: [string, number | undefined][] = [['bare Node, idle timer (baseline)', undefined], ...STEP_COUNTS.map((s): [string, number] => [`${agentCommand[2]}, ${s} step${s === 1 ? '' : 's'}`, s])];
for (const [label, steps] of measured) {
  const cells: string[] = [];
  for (const [column, [, env]] of ENVS.entries()) {
    const [cmd, args] = steps === undefined ? bare : [agentCommand[0], await agentArgs()];
    const { NODE_OPTIONS: _, GLIBC_TUNABLES: __, ...inherited } = process.env;
    const s = await spawnUntilJoined(cmd, args, { ...inherited, ...env });
    if (steps !== undefined) await deploy(lastId, steps);
    const m = await idleRss(s.proc.pid!);
    cells.push(cell(m));
    if (column === 0) {
      const key = steps === undefined ? 'bare' : `steps${steps}`;
      figures[`${key}RssMb`] = m.total / MB;
      figures[`${key}AnonMb`] = m.anon / MB;
    }
    await stop(s.proc);
  }
  rows.push([label, ...cells]);
}
tables.push({
  title: `Idle RSS in MB, total (private = RssAnon), ${agentCommand[2]}, moving-average steps; columns are environments`,
  columns: ['process', ...ENVS.map(([label]) => label)],
  rows,
  note: `Service: NODE_OPTIONS=${SERVICE_ENV.NODE_OPTIONS} GLIBC_TUNABLES=${SERVICE_ENV.GLIBC_TUNABLES}. Target: 10 steps <= 60 MB total, <= 25 MB private.`,
});
await coordinator.stop();
rmSync(work, { recursive: true, force: true });
report({ bench: 'footprint', tables, figures });
