/**
 * bench/rollout.ts: a rollout across clusters, end to end, and the blast radius of a bad version.
 *
 * Over the wire: 1,000 simulated devices (bench/sim/acking-fleet.ts, following their desired state: health reports
 * the revision and its workers running at once, or `desired_failed` for a bad version) in 20 cluster coordinators
 * under a root that runs as its own process (its CPU from /proc/<pid>/schedstat); quick: 100 in 5. A step bump with
 * canary 1% + waves 10%,50%,100% and soak 0: time from the POST to `succeeded`, and the root's CPU over that span.
 * Baseline, measured in the same run: the same devices as the root's own, so it carries out every device itself.
 * Then a version every device refuses: how many devices outside the canary were ever sent it (target 0).
 *
 * In memory: the pure cores alone (RolloutPlanner at the root, one ShareCore per cluster, bench/sim/rollout-fleet.ts)
 * with a fake clock, against 1,000 one-device clusters: the planner's own work per cluster vs per device.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { ApiClient } from '../cli/api-client.js';
import { spawnFlotilla, type FlotillaProcess } from '../cli/processes.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { createLogger } from '../shared/log.js';
import type { RolloutStatus } from '../shared/rollout.js';
import { startAckingFleet, type AckingFleet } from './sim/acking-fleet.js';
import { Fleet } from './sim/rollout-fleet.js';
import { quick, report } from './report.js';

const DEVICES = quick ? 100 : 1000;
const CLUSTERS = quick ? 5 : 20;
const RUNS = 3;
const WAIT_MS = 180_000;
const HEALTH_S = 10;

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-rollout-'));
const quiet = createLogger('bench', 'error');
const token = () => randomBytes(18).toString('base64url');
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const spawned: FlotillaProcess[] = [];
process.on('exit', () => spawned.forEach((p) => p.child.kill('SIGKILL')));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

const cpuNs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
const tree = (step: string) => ({ id: 'root', children: [{ id: 'ingest', step, input: 'sensors/in' }] });

/** Poll until `read` returns a value; after WAIT_MS fail naming `what`. */
async function until<T>(what: string, read: () => Promise<T | undefined>, pauseMs = 50): Promise<T> {
  const deadline = performance.now() + WAIT_MS;
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new Error(`bench stalled after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

async function coordinatorProcess(args: string[]): Promise<{ p: FlotillaProcess; api: ApiClient; mqtt: number }> {
  const p = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--log-level', 'error', ...args]);
  spawned.push(p);
  const { mqtt, http } = (await p.waitFor('listening')) as { mqtt: number; http: number };
  return { p, api: new ApiClient(`http://127.0.0.1:${http}`), mqtt };
}

/** A top (the root of the tree, or the flat baseline) with its devices running `sim@1`. */
interface Top {
  pid: number;
  api: ApiClient;
  fleets: AckingFleet[];
  stop(): Promise<void>;
}

/** sim@3 is the bad version: devices refuse it (desired_failed). */
const takes = (ref: string) => ref !== 'sim@3';

async function prepare(top: Top): Promise<void> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat('tag.wat', readFileSync(fileURLToPath(new URL('../../test/fixtures/wat/tag.wat', import.meta.url)), 'utf8'));
  const module = Buffer.from(parsed.toBinary({}).buffer).toString('base64');
  parsed.destroy();
  for (const version of ['1', '2', '3']) await top.api.pushStep({ name: 'sim', version, module });
  await until('every device online at the top', async () => ((await top.api.devices()).devices.filter((d) => d.online).length === DEVICES ? true : undefined), 200);
  await top.api.applyDesired({ all: true }, tree('sim@1'), 60_000);
  await until('sim@1 on every device', async () => (top.fleets.reduce((n, f) => n + f.received('sim@1').length, 0) === DEVICES ? true : undefined), 200);
}

/** One rollout from the POST to its end: wall time and the top's CPU over it. */
async function rollout(top: Top, step: string): Promise<{ ms: number; cpuMs: number; status: RolloutStatus }> {
  const c0 = cpuNs(top.pid);
  const t0 = performance.now();
  const { id } = await top.api.startRollout({ selector: 'bench=rollout', change: { step }, canary: '1%', waves: '10%,50%,100%', soak: '0', applyTimeout: '60s' });
  const status = await until(`rollout ${id} to end`, async () => {
    const s = await top.api.rollout(id);
    return s.state !== 'running' && !s.devices.some((d) => d.state === 'pending' || d.state === 'updating') ? s : undefined;
  }, 20);
  return { ms: performance.now() - t0, cpuMs: (cpuNs(top.pid) - c0) / 1e6, status };
}

/** The root as a process, CLUSTERS coordinators in this process, DEVICES / CLUSTERS simulated devices each. */
async function federated(): Promise<Top> {
  const names = ids('c', CLUSTERS);
  const childTokens = Object.fromEntries(names.map((n) => [n, token()]));
  writeFileSync(join(dir, 'children.json'), JSON.stringify(childTokens));
  const root = await coordinatorProcess(['--cluster', 'root', '--data-dir', join(dir, 'root'), '--child-tokens-file', join(dir, 'children.json')]);
  const clusters: Coordinator[] = [];
  const fleets: AckingFleet[] = [];
  for (const name of names) {
    const c = await Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: join(dir, name), cluster: name, log: quiet, parent: { url: `mqtt://127.0.0.1:${root.mqtt}`, token: childTokens[name] } });
    clusters.push(c);
    fleets.push(await fleetAt(c, DEVICES / CLUSTERS));
  }
  progress(`tree: ${CLUSTERS} clusters and ${DEVICES} devices started`);
  return {
    pid: root.p.child.pid!,
    api: root.api,
    fleets,
    async stop() {
      await Promise.all(fleets.map((f) => f.stop()));
      for (const c of clusters) await c.stop();
      await root.p.stop();
    },
  };
}

/** Enrolled with the bench's label, following their desired state. */
async function fleetAt(c: Coordinator | { api: ApiClient; mqtt: number }, count: number): Promise<AckingFleet> {
  const api = c instanceof Coordinator ? new ApiClient(`http://127.0.0.1:${c.httpPort}`) : c.api;
  const url = `mqtt://127.0.0.1:${c instanceof Coordinator ? c.mqttPort : c.mqtt}`;
  const tokens: Record<string, string> = {};
  for (const id of ids('d', count)) tokens[id] = (await api.enroll(id, { bench: 'rollout' })).token;
  return startAckingFleet(url, tokens, HEALTH_S, { followDesired: takes });
}

/** The baseline: the same devices, all the root's own. */
async function flat(): Promise<Top> {
  const root = await coordinatorProcess(['--cluster', 'flat', '--data-dir', join(dir, 'flat')]);
  const fleet = await fleetAt(root, DEVICES);
  progress(`flat: ${DEVICES} devices started`);
  return {
    pid: root.p.child.pid!,
    api: root.api,
    fleets: [fleet],
    async stop() {
      await fleet.stop();
      await root.p.stop();
    },
  };
}

/** Healthy rollouts back and forth (sim@2, then sim@1 again, ...), then the bad version once. */
async function measureTop(what: string, top: Top, withBad: boolean) {
  await prepare(top);
  const runs: { ms: number; cpuMs: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await rollout(top, i % 2 === 0 ? 'sim@2' : 'sim@1');
    const healthy = r.status.devices.filter((d) => d.state === 'healthy').length;
    if (r.status.state !== 'succeeded' || healthy !== DEVICES) throw new Error(`bench: ${what} rollout ${i} ended ${r.status.state} (${r.status.reason}), ${healthy} healthy`);
    progress(`${what}: rollout ${i}: ${Math.round(r.ms)} ms, root CPU ${Math.round(r.cpuMs)} ms`);
    runs.push(r);
  }
  let bad: { state: string; canary: number; sent: number; outside: number } | undefined;
  if (withBad) {
    const r = await rollout(top, 'sim@3');
    const canary = new Set(r.status.devices.filter((d) => d.wave === 0).map((d) => d.id));
    const sent = top.fleets.flatMap((f, i) => f.received('sim@3').map((local) => `c${String(i).padStart(4, '0')}/${local}`));
    bad = { state: r.status.state, canary: canary.size, sent: sent.length, outside: sent.filter((id) => !canary.has(id)).length };
    progress(`${what}: bad version: ${bad.state}, sent to ${bad.sent}, ${bad.outside} outside the canary`);
  }
  await top.stop();
  return { ms: median(runs.map((r) => r.ms)), cpuMs: median(runs.map((r) => r.cpuMs)), bad };
}

function clusters(count: number): Record<string, number> {
  const per = DEVICES / count;
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`c${String(i).padStart(4, '0')}`, per]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Run {
  wallMs: number;
  rootMs: number;
  rootCalls: number;
  orders: number;
  healthy: number;
}

function healthyRollout(clusterCount: number): Run {
  const t0 = performance.now();
  const f = new Fleet({ clusters: clusters(clusterCount), canary: { percent: 1 }, waves: [10, 50, 100], coalesceReports: true }).start().runToEnd();
  const wallMs = performance.now() - t0;
  const status = f.planner.status();
  if (status.state !== 'succeeded') throw new Error(`bench: healthy rollout ended ${status.state}: ${status.reason}`);
  return { wallMs, rootMs: f.rootWork.ms, rootCalls: f.rootWork.calls, orders: f.rootWork.orders, healthy: status.devices.filter((d) => d.state === 'healthy').length };
}

function summarize(runs: Run[]) {
  return { wallMs: median(runs.map((r) => r.wallMs)), rootMs: median(runs.map((r) => r.rootMs)), rootCalls: median(runs.map((r) => r.rootCalls)), orders: median(runs.map((r) => r.orders)), healthy: runs[0].healthy };
}

const wire = await measureTop('tree', await federated(), true);
const wireFlat = await measureTop('flat', await flat(), false);
rmSync(dir, { recursive: true, force: true });
const wireBad = wire.bad!;

const grouped = summarize(Array.from({ length: RUNS }, () => healthyRollout(CLUSTERS)));
const flatPure = summarize(Array.from({ length: RUNS }, () => healthyRollout(DEVICES)));

const bad = new Fleet({ clusters: clusters(CLUSTERS), canary: { percent: 1 }, waves: [10, 50, 100], gates: { soakMs: 60_000 }, behaviour: () => 'crashes', coalesceReports: true }).start().runToEnd();
const badStatus = bad.planner.status();
const canary = new Set(badStatus.devices.filter((d) => d.wave === 0).map((d) => d.id));
const outside = bad.ranNew().filter((id) => !canary.has(id)).length;

const round = (n: number) => Math.round(n * 100) / 100;
report({
  bench: 'rollout',
  tables: [
    {
      title: `Rollout across clusters over the wire: ${DEVICES} simulated devices, canary 1% + waves 10%,50%,100%, soak 0 (median of ${RUNS})`,
      columns: ['layout', 'POST to succeeded (ms)', 'root CPU over it (ms)'],
      rows: [
        [`${CLUSTERS} clusters of ${DEVICES / CLUSTERS} under a root`, Math.round(wire.ms), Math.round(wire.cpuMs)],
        [`baseline: all ${DEVICES} the root's own`, Math.round(wireFlat.ms), Math.round(wireFlat.cpuMs)],
        ['ratio baseline / clusters', round(wireFlat.ms / wire.ms), round(wireFlat.cpuMs / wire.cpuMs)],
      ],
      note: `The root in its own process (CPU from /proc/<pid>/schedstat, everything it did during the rollout: orders, reports, the devices' changed summaries coming up, API polls every 20 ms); clusters and devices share the bench process. Devices report health every ${HEALTH_S} s and at once when their desired state changes.`,
    },
    {
      title: `A version every device refuses (desired_failed), over the wire (${DEVICES} devices in ${CLUSTERS} clusters)`,
      columns: ['final state', 'canary devices', 'devices sent it', 'sent it outside the canary'],
      rows: [[wireBad.state, wireBad.canary, wireBad.sent, wireBad.outside]],
      note: 'Target: 0 devices outside the canary.',
    },
    {
      title: `The pure cores alone: ${DEVICES} devices, same strategy, in-memory transport and fake clock (median of ${RUNS})`,
      columns: ['layout', 'to 100% (ms, in-memory)', 'root planner CPU (ms)', 'root planner calls', 'orders sent by the root', 'healthy'],
      rows: [
        [`${CLUSTERS} clusters of ${DEVICES / CLUSTERS}`, round(grouped.wallMs), round(grouped.rootMs), grouped.rootCalls, grouped.orders, grouped.healthy],
        [`baseline: ${DEVICES} one-device clusters`, round(flatPure.wallMs), round(flatPure.rootMs), flatPure.rootCalls, flatPure.orders, flatPure.healthy],
        ['ratio baseline / clusters', round(flatPure.wallMs / grouped.wallMs), round(flatPure.rootMs / grouped.rootMs), round(flatPure.rootCalls / grouped.rootCalls), round(flatPure.orders / grouped.orders), ''],
      ],
      note: 'No sockets, no agents: the orchestration work only. The baseline makes the planner at the root drive every device itself.',
    },
    {
      title: `The pure cores alone: a version that crashes everywhere (soak 60 s)`,
      columns: ['final state', 'canary devices', 'devices that ran it', 'touched outside the canary'],
      rows: [[badStatus.state, canary.size, bad.ranNew().length, outside]],
      note: 'Target: 0 devices outside the canary.',
    },
  ],
  figures: {
    devices: DEVICES,
    clusters: CLUSTERS,
    toFullMs: Math.round(wire.ms),
    rootCpuMs: Math.round(wire.cpuMs),
    flatToFullMs: Math.round(wireFlat.ms),
    flatRootCpuMs: Math.round(wireFlat.cpuMs),
    rootCpuRatioVsOwn: round(wireFlat.cpuMs / wire.cpuMs),
    touchedOutsideCanary: wireBad.outside,
    plannerCpuMs: round(grouped.rootMs),
    plannerCalls: grouped.rootCalls,
    plannerCallsBaseline: flatPure.rootCalls,
    plannerCpuRatioVsPerDevice: round(flatPure.rootMs / grouped.rootMs),
    plannerTouchedOutsideCanary: outside,
  },
});
