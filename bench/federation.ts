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
 * every device's health itself. Size: `CLUSTERS` and `PER_CLUSTER` env (default 20 x 50); every wait is bounded.
 */
const CLUSTERS = Number(process.env.CLUSTERS ?? 20);
const PER_CLUSTER = Number(process.env.PER_CLUSTER ?? 50);
const INTERVAL_S = 5;
const DEVICES = CLUSTERS * PER_CLUSTER;
/** The whole run is bounded: a stall fails with what it waited for instead of hanging `npm run bench`. */
const WAIT_MS = 120_000;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-fed-'));
const quiet = createLogger('bench', process.env.DEBUG ? 'debug' : 'error');
const token = () => randomBytes(18).toString('base64url');
const names = Array.from({ length: CLUSTERS }, (_, i) => `c${String(i).padStart(2, '0')}`);
const childTokens = Object.fromEntries(names.map((n) => [n, token()]));
writeFileSync(join(dir, 'children.json'), JSON.stringify(childTokens));

const root = spawnFlotilla(['coordinator', '--cluster', 'root', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', join(dir, 'root'), '--child-tokens-file', join(dir, 'children.json'), '--log-level', process.env.DEBUG ? 'debug' : 'error']);
process.on('exit', () => root.child.kill('SIGKILL'));
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
let polls = 0;
await until('every device online at the root', async () => {
  const missing = (await devicesAtRoot()).filter((d) => !d.online).map((d) => d.id);
  if (++polls % 25 === 0) progress(`${DEVICES - missing.length}/${DEVICES} online at the root`);
  return missing.length === 0 || `missing ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`;
}, 200);

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
const ackedAtDevices = fleets.reduce((n, f) => n + f.commandsAcked(), 0);
if (ackedAtDevices !== 5 * DEVICES) throw new Error(`devices acked ${ackedAtDevices} commands, the root counted ${5 * DEVICES}`);

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
  await until(`${deviceIds[k]} ${want} at the root`, async () => (await devicesAtRoot()).find((d) => d.id === deviceIds[k])?.state === want || 'not yet', 0);
  staleness.push(performance.now() - t0);
}

progress('staleness done');
// Steady state: 1,000 devices reporting every 5 s. Root CPU from /proc/<pid>/schedstat (ns on CPU; /proc/<pid>/stat
// counts 10 ms ticks, too coarse for an idle root), RSS from /proc/<pid>/status; this process (20 clusters and the
// agents) for comparison. A pause first lets the last state flip's summary go up.
await new Promise((r) => setTimeout(r, 2 * 1000));
const pid = root.child.pid!;
const cpuNs = () => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const upSoFar = () => clusters.reduce((n, c) => n + c.federation.bridge!.stats.up, 0);
const healthSoFar = () => fleets.reduce((n, f) => n + f.published(), 0);
const [up0, health0, c0, own0, w0] = [upSoFar(), healthSoFar(), cpuNs(), process.cpuUsage(), performance.now()];
await new Promise((r) => setTimeout(r, 20_000));
const wall = (performance.now() - w0) / 1000;
const cpuPct = ((cpuNs() - c0) / 1e9 / wall) * 100;
const own = process.cpuUsage(own0);
const ownPct = ((own.user + own.system) / 1e6 / wall) * 100;
const uplinks = upSoFar() - up0;
const healthPerS = (healthSoFar() - health0) / wall;
const rss = rssMb();

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const rows: [string, string, string, string][] = [
  ['MQTT connections held at the root', String(rootConnections), `full mesh: ${nodes - 1} per node, ${((nodes * (nodes - 1)) / 2).toLocaleString('en')} in all`, `${((nodes * (nodes - 1)) / 2 / rootConnections).toFixed(0)}x fewer`],
  [`root command → ${DEVICES} acks (median / max of 5)`, `${pct(fanout, 50).toFixed(0)} / ${Math.max(...fanout).toFixed(0)} ms`, 'target 2000 ms', `${(2000 / Math.max(...fanout)).toFixed(1)}x headroom`],
  ['state change visible at root (p50 / p99 of 40)', `${pct(staleness, 50).toFixed(0)} / ${pct(staleness, 99).toFixed(0)} ms`, 'target 1000 ms p99', `${(1000 / pct(staleness, 99)).toFixed(1)}x headroom`],
  [`uplink messages into the root at steady state (${wall.toFixed(0)} s)`, `${uplinks} (${(uplinks / wall).toFixed(2)}/s)`, `flat root: ${healthPerS.toFixed(0)}/s health (sent by the fleet)`, uplinks ? `${(healthPerS / (uplinks / wall)).toFixed(0)}x fewer` : 'none'],
  [`root CPU at steady state (${wall.toFixed(0)} s)`, `${cpuPct.toFixed(2)}% of one core`, 'target 25%', `${(25 / cpuPct).toFixed(0)}x headroom`],
  [`  for comparison: ${CLUSTERS} clusters + ${DEVICES} agents (one process)`, `${ownPct.toFixed(1)}% of one core`, '', ''],
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
