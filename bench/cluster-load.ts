/**
 * One coordinator under many devices (issue 11, finding 8): health every second from 1k, 5k and 10k simulated devices
 * (bench/sim/acking-fleet.ts, in a process of its own), measured on the coordinator process over a steady window:
 *   - CPU (% of one core, from /proc/<pid>/stat), RSS (median of samples);
 *   - lastSeen lag: now − lastSeen over every online device, sampled from GET /api/v1/devices (p50, p99);
 *   - the fleet process's own CPU, to show the simulated devices are not what limits the figures;
 *   - baseline, same run, same fleet: aedes alone relaying the same health to one in-process subscriber.
 * The window starts once the server keeps up with the fleet (it took in KEEPING_UP of the reports due in a second:
 * the coordinator's `flotilla_mqtt_messages_in_total`, the baseline's relay count) or after MAX_SETTLE_MS; how long
 * that took is reported.
 * Targets at 10k: lastSeen p99 < 2 s, < 60% of one core, < 600 MB RSS.
 * Run: `npm run bench -- --only cluster-load` (`--quick`: 200 devices, short windows).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnFlotilla } from '../cli/processes.js';
import { DeviceList } from '../shared/api.js';
import { median, rss } from './proc-rss.js';
import { quick, report, type Cell } from './report.js';

const SIZES = quick ? [200] : [1_000, 5_000, 10_000];
const WINDOW_MS = quick ? 4_000 : 20_000;
const SETTLE_MS = quick ? 1_000 : 5_000;
const MAX_SETTLE_MS = quick ? 5_000 : 120_000;
/** The share of one second's reports a server must take in, in a second, to count as keeping up. */
const KEEPING_UP = 0.9;
const CLK_TCK = 100;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15 of proc(5))
}

const lineFrom = (child: ChildProcess, match: (line: string) => boolean) =>
  new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!; // an unfinished line waits for the rest of it
      for (const line of lines) if (match(line)) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)));
  });

async function startFleet(dir: string, mqttUrl: string, tokens: Record<string, string>): Promise<ChildProcess> {
  const spec = join(dir, `fleet-${Object.keys(tokens).length}.json`);
  writeFileSync(spec, JSON.stringify({ mqttUrl, tokens, intervalS: 1 }));
  const fleet = spawn(process.execPath, ['--max-old-space-size=4096', here('./sim/fleet-process.js'), spec], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(fleet);
  await lineFrom(fleet, (l) => l === 'ready');
  return fleet;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Waits SETTLE_MS, then until `received` (a running count of reports) grows by KEEPING_UP × n in a second, at most MAX_SETTLE_MS; the ms waited. */
async function settle(n: number, received: () => Promise<number>): Promise<number> {
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  for (;;) {
    const r0 = await received();
    const s0 = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    const perS = ((await received()) - r0) / ((Date.now() - s0) / 1000);
    if (perS >= KEEPING_UP * n || Date.now() - t0 >= MAX_SETTLE_MS) return Date.now() - t0;
  }
}

/** CPU and RSS of `pid` (and the fleet's CPU) over the window, and whatever `probe` samples meanwhile (every 5 s). */
async function measure(pid: number, fleet: number, settledMs: number, probe?: () => Promise<void>) {
  const t0 = Date.now();
  const c0 = cpuTicks(pid);
  const f0 = cpuTicks(fleet);
  const rssSamples: number[] = [];
  let lastProbe = 0;
  while (Date.now() - t0 < WINDOW_MS) {
    await new Promise((r) => setTimeout(r, 500));
    rssSamples.push(rss(pid).total);
    if (probe && Date.now() - lastProbe >= 5_000) {
      lastProbe = Date.now();
      await probe();
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  const pct = (ticks: number) => (ticks / CLK_TCK / seconds) * 100;
  return { cpuPct: pct(cpuTicks(pid) - c0), fleetCpuPct: pct(cpuTicks(fleet) - f0), rssMB: median(rssSamples) / 2 ** 20, settledS: settledMs / 1000 };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

async function baseline(dir: string, tokens: Record<string, string>) {
  const broker = spawn(process.execPath, [here('./sim/bare-broker.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(broker);
  const { port } = JSON.parse(await lineFrom(broker, (l) => l.startsWith('{'))) as { port: number };
  let relayed = 0;
  createInterface({ input: broker.stdout! }).on('line', (line) => (relayed = (JSON.parse(line) as { relayed?: number }).relayed ?? relayed));
  const fleet = await startFleet(dir, `mqtt://127.0.0.1:${port}`, tokens);
  const settled = await settle(Object.keys(tokens).length, async () => relayed);
  const m = await measure(broker.pid!, fleet.pid!, settled);
  await stop(fleet);
  await stop(broker);
  return m;
}

async function flotilla(dir: string, tokens: Record<string, string>) {
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify(tokens));
  const dataDir = mkdtempSync(join(dir, 'coord-'));
  const apiToken = randomBytes(16).toString('hex');
  const coordinator = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dataDir, '--tokens-file', tokensFile, `--api-token=${apiToken}`, '--log-level', 'warn'], { stderr: 'ignore' });
  children.push(coordinator.child);
  const { mqtt, http } = (await coordinator.waitFor('listening', 120_000)) as { mqtt: number; http: number };
  const fleet = await startFleet(dir, `mqtt://127.0.0.1:${mqtt}`, tokens);
  const get = (path: string) => fetch(`http://127.0.0.1:${http}${path}`, { headers: { authorization: `Bearer ${apiToken}` } });
  const healthIn = async () => Number(/^flotilla_mqtt_messages_in_total\{kind="d\/health"\} (\d+)$/m.exec(await (await get('/metrics')).text())?.[1] ?? 0);
  const settled = await settle(Object.keys(tokens).length, healthIn);
  const lags: number[] = [];
  let offline = 0;
  const m = await measure(coordinator.child.pid!, fleet.pid!, settled, async () => {
    const res = await get('/api/v1/devices');
    const now = Date.now(); // the list was built before its headers were sent; parsing it here is the bench's time
    const { devices } = DeviceList.parse(await res.json());
    offline = 0;
    for (const d of devices) {
      if (d.online && d.lastSeen !== null && d.lastSeen !== undefined) lags.push(now - d.lastSeen);
      else offline++;
    }
  });
  await stop(fleet);
  coordinator.child.kill('SIGTERM');
  await new Promise((r) => coordinator.child.once('exit', r));
  return { ...m, lagP50: percentile(lags, 0.5), lagP99: percentile(lags, 0.99), offline };
}

const dir = mkdtempSync(join(tmpdir(), 'flotilla-cluster-load-'));
const rows: Cell[][] = [];
const figures: Record<string, number> = {};
try {
  for (const n of SIZES) {
    const tokens = Object.fromEntries(Array.from({ length: n }, (_, i) => [`load-${String(i).padStart(5, '0')}`, randomBytes(32).toString('hex')]));
    const base = await baseline(dir, tokens);
    const f = await flotilla(dir, tokens);
    rows.push([n, f.cpuPct.toFixed(1), base.cpuPct.toFixed(1), (f.cpuPct / base.cpuPct).toFixed(2), Math.round(f.rssMB), Math.round(base.rssMB), Math.round(f.lagP50), Math.round(f.lagP99), f.offline, `${f.settledS.toFixed(0)} / ${base.settledS.toFixed(0)}`, `${f.fleetCpuPct.toFixed(0)} / ${base.fleetCpuPct.toFixed(0)}`]);
    Object.assign(figures, { [`cpuPct${n}`]: f.cpuPct, [`baselineCpuPct${n}`]: base.cpuPct, [`rssMB${n}`]: f.rssMB, [`baselineRssMB${n}`]: base.rssMB, [`lagP50Ms${n}`]: f.lagP50, [`lagP99Ms${n}`]: f.lagP99, [`offline${n}`]: f.offline, [`settledS${n}`]: f.settledS, [`baselineSettledS${n}`]: base.settledS, [`fleetCpuPct${n}`]: f.fleetCpuPct });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

report({
  bench: 'cluster-load',
  tables: [
    {
      title: 'One coordinator, health every second from N devices',
      columns: ['devices', 'coordinator CPU %', 'aedes alone CPU %', 'ratio', 'coordinator RSS MB', 'aedes alone RSS MB', 'lastSeen lag p50 ms', 'lastSeen lag p99 ms', 'offline at the end', 'settled after s (coordinator / aedes)', 'fleet process CPU % (coordinator / aedes)'],
      rows,
      note: `CPU in % of one core and RSS (median) over ${WINDOW_MS / 1000} s, once the server keeps up (at least ${SETTLE_MS / 1000} s after the last device connected, then until it took in ${KEEPING_UP * 100}% of a second's reports in a second, at most ${MAX_SETTLE_MS / 1000} s); the simulated fleet runs in a process of its own. Baseline: aedes alone with default options relaying the same health to one in-process subscriber at health's QoS (0). Lag: now − lastSeen of every online device, sampled every 5 s through GET /api/v1/devices, now taken when the answer's headers arrive (the sampling's own cost is in the coordinator's CPU).`,
    },
  ],
  figures,
});
