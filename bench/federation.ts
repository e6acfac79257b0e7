import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnFlotilla } from '../cli/processes.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { DeviceList, FanoutResult } from '../shared/api.js';
import { createLogger } from '../shared/log.js';
import { startAckingFleet } from './sim/acking-fleet.js';

/**
 * Federation benchmark (bench/README.md): 1,000 simulated agents in 20 cluster coordinators under one root.
 * The root is its own process (its CPU and memory are read from /proc); the clusters and the agents share this one.
 * Baselines measured or derived in the same run: a full mesh of the same nodes, and a flat root that would receive
 * every device's health itself.
 */
const CLUSTERS = Number(process.env.CLUSTERS ?? 20);
const PER_CLUSTER = Number(process.env.PER_CLUSTER ?? 50);
const INTERVAL_S = 5;
const DEVICES = CLUSTERS * PER_CLUSTER;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-fed-'));
const quiet = createLogger('bench', process.env.DEBUG ? 'debug' : 'error');
const token = () => randomBytes(18).toString('base64url');
const names = Array.from({ length: CLUSTERS }, (_, i) => `c${String(i).padStart(2, '0')}`);
const childTokens = Object.fromEntries(names.map((n) => [n, token()]));
writeFileSync(join(dir, 'children.json'), JSON.stringify(childTokens));

const root = spawnFlotilla(['coordinator', '--cluster', 'root', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', join(dir, 'root'), '--child-tokens-file', join(dir, 'children.json'), '--log-level', process.env.DEBUG ? 'debug' : 'error']);
const { mqtt: rootMqtt, http: rootHttp } = (await root.waitFor('listening')) as { mqtt: number; http: number };
const api = `http://127.0.0.1:${rootHttp}`;

const clusters: Coordinator[] = [];
const fleets: Awaited<ReturnType<typeof startAckingFleet>>[] = [];
const deviceIds: string[] = [];
for (const name of names) {
  const tokens = Object.fromEntries(Array.from({ length: PER_CLUSTER }, (_, i) => [`dev${String(i).padStart(3, '0')}`, token()]));
  const c = await Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: join(dir, name), cluster: name, tokens, log: quiet, parent: { url: `mqtt://127.0.0.1:${rootMqtt}`, token: childTokens[name] } });
  clusters.push(c);
  fleets.push(await startAckingFleet(`mqtt://127.0.0.1:${c.mqttPort}`, tokens, INTERVAL_S));
  deviceIds.push(...Object.keys(tokens).map((id) => `${name}/${id}`));
}

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
progress(`${CLUSTERS} clusters and ${DEVICES} agents started`);
const devicesAtRoot = async () => DeviceList.parse(await (await fetch(`${api}/api/v1/devices`)).json()).devices;
let polls = 0;
for (;;) {
  const online = (await devicesAtRoot()).filter((d) => d.online).length;
  if (++polls % 25 === 0) progress(`${online}/${DEVICES} online at the root`);
  if (online === DEVICES) break;
  await new Promise((r) => setTimeout(r, 200));
}

/** Established TCP connections whose local end is the root's MQTT port (from /proc/net/tcp, IPv4). */
function connectionsAt(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${hex}`) && f[3] === '01';
  }).length;
}

progress('all devices online at the root');
const rootConnections = connectionsAt(rootMqtt);
const nodes = DEVICES + CLUSTERS + 1;

// Command fan-out: one POST at the root, acked by every device.
const fanout: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const res = await fetch(`${api}/api/v1/commands`, { method: 'POST', body: JSON.stringify({ target: { all: true }, command: { type: 'ping' }, timeoutMs: 10_000 }) });
  const result = FanoutResult.parse(await res.json());
  const ms = performance.now() - t0;
  const acks = Object.values(result.acks).filter((a) => a.ok).length;
  if (acks !== DEVICES) throw new Error(`fan-out ${i}: ${acks}/${DEVICES} acks, unreachable ${result.unreachable.join(',')}`);
  fanout.push(ms);
}

progress('fan-out done');
// Staleness: flip one device to degraded (or back) and poll the root until its list shows it.
const staleness: number[] = [];
for (let i = 0; i < 40; i++) {
  const k = (i * 37) % DEVICES;
  const [cluster, id] = deviceIds[k].split('/');
  const want = i % 4 < 2 ? 'degraded' : 'ok';
  const t0 = performance.now();
  fleets[names.indexOf(cluster)].setDegraded(id, want === 'degraded');
  // The root's own view (the device list), not a detail request, which would ask the device's cluster.
  while ((await devicesAtRoot()).find((d) => d.id === deviceIds[k])?.state !== want);
  staleness.push(performance.now() - t0);
}

progress('staleness done');
// Steady state: 1,000 devices reporting every 5 s; root CPU and memory from /proc over 20 s.
const pid = root.child.pid!;
const cpuTicks = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const upBefore = clusters.reduce((n, c) => n + c.federation.bridge!.stats.up, 0);
const c0 = cpuTicks();
const w0 = performance.now();
await new Promise((r) => setTimeout(r, 20_000));
const wall = (performance.now() - w0) / 1000;
const cpuPct = ((cpuTicks() - c0) / 100 / wall) * 100; // USER_HZ = 100
const rootMsgsPerS = (clusters.reduce((n, c) => n + c.federation.bridge!.stats.up, 0) - upBefore) / wall;
const rss = rssMb();

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const rows: [string, string, string, string][] = [
  ['MQTT connections held at the root', String(rootConnections), `full mesh: ${nodes - 1} per node, ${((nodes * (nodes - 1)) / 2).toLocaleString('en')} in all`, `${((nodes * (nodes - 1)) / 2 / rootConnections).toFixed(0)}x fewer`],
  [`root command → ${DEVICES} acks (median / max of 5)`, `${pct(fanout, 50).toFixed(0)} / ${Math.max(...fanout).toFixed(0)} ms`, 'target 2000 ms', `${(2000 / Math.max(...fanout)).toFixed(1)}x headroom`],
  ['state change visible at root (p50 / p99 of 40)', `${pct(staleness, 50).toFixed(0)} / ${pct(staleness, 99).toFixed(0)} ms`, 'target 1000 ms p99', `${(1000 / pct(staleness, 99)).toFixed(1)}x headroom`],
  ['uplink messages into the root at steady state', `${rootMsgsPerS.toFixed(1)}/s`, `flat root: ${(DEVICES / INTERVAL_S).toFixed(0)}/s health`, `${(DEVICES / INTERVAL_S / Math.max(rootMsgsPerS, 0.01)).toFixed(0)}x fewer`],
  ['root CPU at steady state (20 s)', `${cpuPct.toFixed(1)}% of one core`, 'target 25%', `${(25 / Math.max(cpuPct, 0.01)).toFixed(0)}x headroom`],
  ['root RSS', `${rss.toFixed(0)} MiB`, '', ''],
];
console.log(`\nFederation: ${DEVICES} simulated agents in ${CLUSTERS} clusters under one root, health every ${INTERVAL_S} s (node ${process.version}, ${process.arch})\n`);
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['measure', 'measured', 'baseline', 'ratio'][i].length));
const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
console.log(line(['measure', 'measured', 'baseline', 'ratio']));
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) console.log(line(r));

await Promise.all(fleets.map((f) => f.stop()));
for (const c of clusters) await c.stop();
await root.stop();
rmSync(dir, { recursive: true, force: true });
