import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnFlotilla, type FlotillaProcess } from '../cli/processes.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { DeviceList, FanoutResult } from '../shared/api.js';
import { createLogger } from '../shared/log.js';
import { median } from './proc-rss.js';
import { quick, report } from './report.js';
import { startAckingFleet, type AckingFleet } from './sim/acking-fleet.js';

/**
 * Federation benchmark (bench/README.md): N simulated agents in C cluster coordinators under one root, against the
 * baseline of the same N agents in one flat cluster, measured in the same run with the same probes. Both the root
 * and the flat coordinator run as their own processes (CPU from /proc/<pid>/schedstat, bytes read from
 * /proc/<pid>/io, RSS from /proc/<pid>/status); the clusters and the agents share this one. Sizes: 20 × 50
 * (`CLUSTERS`, `PER_CLUSTER` env), `--quick` 2 × 5. Every wait is bounded: a stall fails naming what it waited for.
 */
const CLUSTERS = quick ? 2 : Number(process.env.CLUSTERS ?? 20);
const PER_CLUSTER = quick ? 5 : Number(process.env.PER_CLUSTER ?? 50);
const DEVICES = CLUSTERS * PER_CLUSTER;
const INTERVAL_S = 5;
const FANOUTS = quick ? 2 : 5;
const FLIPS = quick ? 4 : 40;
const STEADY_MS = quick ? 3_000 : 20_000;
const WAIT_MS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-fed-'));
const quiet = createLogger('bench', process.env.DEBUG ? 'debug' : 'error');
const logLevel = process.env.DEBUG ? 'debug' : 'error';
const token = () => randomBytes(18).toString('base64url');
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const spawned: FlotillaProcess[] = [];
process.on('exit', () => spawned.forEach((p) => p.child.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

/** Poll `read` until it returns true; after WAIT_MS fail, naming `what` (and what `read` last reported). */
async function until(what: string, read: () => Promise<true | string>, pauseMs: number): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  for (;;) {
    const r = await read();
    if (r === true) return;
    if (performance.now() > deadline) throw new Error(`bench stalled after ${WAIT_MS} ms waiting for ${what}: ${r}`);
    if (pauseMs) await new Promise((res) => setTimeout(res, pauseMs));
  }
}

/** Established TCP connections whose local end is `port` (from /proc/net/tcp, IPv4). */
function connectionsAt(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hex}`) && f[3] === '01';
  }).length;
}

const proc = (pid: number) => ({
  cpuNs: () => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]),
  readBytes: () => Number(/rchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]),
  rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024,
});

/** The top of a fleet as the probes see it: the process that holds it, its API and its devices. */
interface Top {
  pid: number;
  api: string;
  mqttPort: number;
  fleets: AckingFleet[];
  /** Device id as the top's list names it → which fleet runs it, under which local id. */
  devices: { id: string; fleet: AckingFleet; local: string }[];
}

interface Measured {
  connections: number;
  fanoutMs: number[];
  stalenessMs: number[];
  cpuPct: number;
  readBytesPerS: number;
  rssMiB: number;
  healthOfferedPerS: number;
}

/** The same probes for the root of the tree and for the flat cluster. */
async function measure(what: string, top: Top): Promise<Measured> {
  const list = async () => DeviceList.parse(await (await fetch(`${top.api}/api/v1/devices`)).json()).devices;
  let polls = 0;
  await until(`every device online at the ${what}`, async () => {
    const online = new Set((await list()).filter((d) => d.online).map((d) => d.id));
    const missing = top.devices.filter((d) => !online.has(d.id)).map((d) => d.id);
    if (++polls % 25 === 0) progress(`${what}: ${DEVICES - missing.length}/${DEVICES} online`);
    return missing.length === 0 || `missing ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`;
  }, 200);
  const connections = connectionsAt(top.mqttPort);

  // Command fan-out: one POST, acked by every device.
  const fanoutMs: number[] = [];
  const acked0 = top.fleets.reduce((n, f) => n + f.commandsAcked(), 0);
  for (let i = 0; i < FANOUTS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${top.api}/api/v1/commands`, { method: 'POST', body: JSON.stringify({ target: { all: true }, command: { type: 'ping' }, timeoutMs: 60_000 }) });
    const result = FanoutResult.parse(await res.json());
    fanoutMs.push(performance.now() - t0);
    const acks = Object.values(result.acks).filter((a) => a.ok).length;
    if (acks !== DEVICES) throw new Error(`${what} fan-out ${i}: ${acks}/${DEVICES} acks, unreachable ${result.unreachable.join(',')}`);
  }
  const acked = top.fleets.reduce((n, f) => n + f.commandsAcked(), 0) - acked0;
  if (acked !== FANOUTS * DEVICES) throw new Error(`${what}: devices acked ${acked} commands, the API counted ${FANOUTS * DEVICES}`);

  // Staleness: flip one device to degraded (or back) and poll the top's own list until it shows it.
  const stalenessMs: number[] = [];
  for (let i = 0; i < FLIPS; i++) {
    const d = top.devices[(i * 37) % DEVICES];
    const want = i % 4 < 2 ? 'degraded' : 'ok';
    const t0 = performance.now();
    d.fleet.setDegraded(d.local, want === 'degraded');
    await until(`${d.id} ${want} at the ${what}`, async () => (await list()).find((x) => x.id === d.id)?.state === want || 'not yet', 0);
    stalenessMs.push(performance.now() - t0);
  }

  // Steady state: the fleet reporting health every INTERVAL_S, no API traffic. A pause first lets the last flip settle.
  await new Promise((r) => setTimeout(r, 2000));
  const p = proc(top.pid);
  const offered = () => top.fleets.reduce((n, f) => n + f.published(), 0);
  const [c0, b0, h0, w0] = [p.cpuNs(), p.readBytes(), offered(), performance.now()];
  await new Promise((r) => setTimeout(r, STEADY_MS));
  const wall = (performance.now() - w0) / 1000;
  return {
    connections,
    fanoutMs,
    stalenessMs,
    cpuPct: ((p.cpuNs() - c0) / 1e9 / wall) * 100,
    readBytesPerS: (p.readBytes() - b0) / wall,
    rssMiB: p.rssMiB(),
    healthOfferedPerS: (offered() - h0) / wall,
  };
}

async function coordinatorProcess(args: string[]): Promise<{ p: FlotillaProcess; mqtt: number; http: number }> {
  const p = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--log-level', logLevel, ...args]);
  spawned.push(p);
  const { mqtt, http } = (await p.waitFor('listening')) as { mqtt: number; http: number };
  return { p, mqtt, http };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `dev${String(i).padStart(4, '0')}`);

/** The tree: a root process, CLUSTERS coordinators in this process, PER_CLUSTER agents each. */
async function tree(): Promise<Measured> {
  const names = Array.from({ length: CLUSTERS }, (_, i) => `c${String(i).padStart(2, '0')}`);
  const childTokens = Object.fromEntries(names.map((n) => [n, token()]));
  writeFileSync(join(dir, 'children.json'), JSON.stringify(childTokens));
  const root = await coordinatorProcess(['--cluster', 'root', '--data-dir', join(dir, 'root'), '--child-tokens-file', join(dir, 'children.json')]);
  const clusters: Coordinator[] = [];
  const top: Top = { pid: root.p.child.pid!, api: `http://127.0.0.1:${root.http}`, mqttPort: root.mqtt, fleets: [], devices: [] };
  for (const name of names) {
    const tokens = Object.fromEntries(ids(PER_CLUSTER).map((id) => [id, token()]));
    const c = await Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: join(dir, name), cluster: name, tokens, log: quiet, parent: { url: `mqtt://127.0.0.1:${root.mqtt}`, token: childTokens[name] } });
    clusters.push(c);
    const fleet = await startAckingFleet(`mqtt://127.0.0.1:${c.mqttPort}`, tokens, INTERVAL_S);
    top.fleets.push(fleet);
    top.devices.push(...Object.keys(tokens).map((local) => ({ id: `${name}/${local}`, fleet, local })));
  }
  progress(`tree: ${CLUSTERS} clusters and ${DEVICES} agents started`);
  const m = await measure('root', top);
  await Promise.all(top.fleets.map((f) => f.stop()));
  for (const c of clusters) await c.stop();
  await root.p.stop();
  return m;
}

/** The baseline: the same agents, all connected to one coordinator process. */
async function flat(): Promise<Measured> {
  const tokens = Object.fromEntries(ids(DEVICES).map((id) => [id, token()]));
  writeFileSync(join(dir, 'devices.json'), JSON.stringify(tokens));
  const c = await coordinatorProcess(['--cluster', 'flat', '--data-dir', join(dir, 'flat'), '--tokens-file', join(dir, 'devices.json')]);
  const fleet = await startAckingFleet(`mqtt://127.0.0.1:${c.mqtt}`, tokens, INTERVAL_S);
  progress(`flat: ${DEVICES} agents started`);
  const m = await measure('flat cluster', { pid: c.p.child.pid!, api: `http://127.0.0.1:${c.http}`, mqttPort: c.mqtt, fleets: [fleet], devices: Object.keys(tokens).map((local) => ({ id: local, fleet, local })) });
  await fleet.stop();
  await c.p.stop();
  return m;
}

const t = await tree();
const f = await flat();
rmSync(dir, { recursive: true, force: true });

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const r1 = (n: number) => Math.round(n * 10) / 10;
const r2 = (n: number) => Math.round(n * 100) / 100;
const ratio = (base: number, value: number) => (value > 0 ? `${r1(base / value)}x` : '–');
const figures = {
  devices: DEVICES,
  clusters: CLUSTERS,
  rootConnections: t.connections,
  flatConnections: f.connections,
  rootFanoutP50Ms: Math.round(median(t.fanoutMs)),
  rootFanoutMaxMs: Math.round(Math.max(...t.fanoutMs)),
  flatFanoutP50Ms: Math.round(median(f.fanoutMs)),
  rootStalenessP50Ms: Math.round(pct(t.stalenessMs, 50)),
  rootStalenessP99Ms: Math.round(pct(t.stalenessMs, 99)),
  flatStalenessP99Ms: Math.round(pct(f.stalenessMs, 99)),
  rootCpuPct: r2(t.cpuPct),
  flatCpuPct: r2(f.cpuPct),
  rootReadBytesPerS: Math.round(t.readBytesPerS),
  flatReadBytesPerS: Math.round(f.readBytesPerS),
  healthOfferedPerS: r1(f.healthOfferedPerS),
  rootRssMiB: Math.round(t.rssMiB),
  flatRssMiB: Math.round(f.rssMiB),
};
report({
  bench: 'federation',
  tables: [
    {
      title: `Federation: ${DEVICES} simulated agents, ${CLUSTERS} clusters under one root vs one flat cluster (health every ${INTERVAL_S} s)`,
      columns: ['measure', `root of the tree`, `flat cluster (baseline)`, 'flat ÷ root'],
      rows: [
        ['MQTT connections held', t.connections, f.connections, ratio(f.connections, t.connections)],
        [`command → ${DEVICES} acks, median / max of ${FANOUTS} (ms)`, `${figures.rootFanoutP50Ms} / ${figures.rootFanoutMaxMs}`, `${figures.flatFanoutP50Ms} / ${Math.round(Math.max(...f.fanoutMs))}`, ratio(median(f.fanoutMs), median(t.fanoutMs))],
        [`state change visible in the device list, p50 / p99 of ${FLIPS} (ms)`, `${figures.rootStalenessP50Ms} / ${figures.rootStalenessP99Ms}`, `${Math.round(pct(f.stalenessMs, 50))} / ${figures.flatStalenessP99Ms}`, ratio(pct(f.stalenessMs, 99), pct(t.stalenessMs, 99))],
        [`bytes read per s at steady state (${STEADY_MS / 1000} s)`, figures.rootReadBytesPerS, figures.flatReadBytesPerS, ratio(f.readBytesPerS, t.readBytesPerS)],
        [`CPU at steady state (% of one core)`, figures.rootCpuPct, figures.flatCpuPct, ratio(f.cpuPct, t.cpuPct)],
        ['RSS (MiB)', figures.rootRssMiB, figures.flatRssMiB, ratio(f.rssMiB, t.rssMiB)],
      ],
      note: `Both columns measured in this run with the same probes; the flat cluster receives every device's health itself (${figures.healthOfferedPerS}/s offered). Bytes read: /proc/<pid>/io rchar (MQTT and HTTP, no API calls during the window).`,
    },
  ],
  figures,
});
