/**
 * Footprint of the flashable agent (issue 6): artifact size per target (raw and xz), start-up time to "joined" and
 * idle RSS of a native x64 agent with 0, 1 and 5 steps loaded, under a few V8 memory flags. Baselines measured in the
 * same run: a bare Node process (start-up and idle RSS floor of anything written for Node).
 * Run: `npm run build:targets && node dist/bench/footprint.js [runs]`.
 *
 * Steps are deployed the way a fleet does it: the module pushed to the coordinator's registry, a supervisor spec
 * with N moving-average workers applied to the device, idle RSS taken once its health reports N children running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../cli/api-client.js';
import { FLOTILLA_MAIN } from '../cli/processes.js';
import { buildStep } from '../cli/step-build.js';
import { Coordinator } from '../coordinator/index.js';
import { OUT_ROOT, TARGETS_DIR, type BuiltTarget } from '../firmware-targets/build.js';
import { loadTargets } from '../firmware-targets/descriptor.js';
import { artifactLayout } from '../firmware-targets/launch.js';
import { createLogger } from '../shared/log.js';
import { idleRss, median } from './proc-rss.js';

const MB = 1024 * 1024;

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

async function main(runs: number): Promise<void> {
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
  const { wasmPath, manifest } = await buildStep(fileURLToPath(new URL('../../examples/steps/moving-average', import.meta.url)), `${work}/step`);
  await api.pushStep({ name: manifest.name, version: manifest.version, module: readFileSync(wasmPath).toString('base64') });
  let n = 0;
  let lastId = '';
  const agentArgs = async () => {
    const id = (lastId = `fp-${n++}`);
    const { token } = await api.enroll(id);
    return ['--coordinator', url, '--id', id, `--token=${token}`, '--data-dir', `${work}/${id}`, '--health-interval', '1', '--log-level', 'error'];
  };
  /** Deploy `steps` idle moving-average workers to device `id`; resolves once its health shows them all running. */
  const deploy = async (id: string, steps: number) => {
    const children = Array.from({ length: steps }, (_, i) => ({ id: `avg${i}`, step: `${manifest.name}@${manifest.version}`, config: { field: 'temp' }, input: `footprint/${id}/in` }));
    await api.applyDesired({ device: id }, { id: 'footprint', children });
    for (const deadline = Date.now() + 60_000; ; ) {
      const d = (await api.devices()).devices.find((d) => d.id === id);
      if (d && d.children.running === steps && d.children.total === steps) return;
      if (Date.now() > deadline) throw new Error(`${id}: ${steps} steps not running after 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
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
  const rows: [string, () => Promise<[string, string[]]>, number | undefined][] = [
    ['bare Node, idle timer (baseline)', async () => [process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log(JSON.stringify({ event: "joined" }))']], undefined],
    ...[0, 1, 5].map((steps): [string, () => Promise<[string, string[]]>, number] => [`artifact linux-x64 (SEA), ${steps} step${steps === 1 ? '' : 's'}`, async () => [sea, await agentArgs()], steps]),
  ];
  for (const [label, make, steps] of rows) {
    const cells: string[] = [];
    for (const flags of flagSets) {
      const [cmd, args] = await make();
      const s = await spawnUntilJoined(cmd, args, { ...process.env, NODE_OPTIONS: flags });
      if (steps !== undefined) await deploy(lastId, steps);
      const m = await idleRss(s.proc.pid!);
      cells.push(`${(m.total / MB).toFixed(1)} (${(m.anon / MB).toFixed(1)})`);
      await stop(s.proc);
    }
    console.log(`| ${label} | ${cells.join(' | ')} |`);
  }
  await coordinator.stop();
  rmSync(work, { recursive: true, force: true });
}

await main(Number(process.argv[2] ?? 5));
