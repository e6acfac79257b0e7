/**
 * bench/rollout.ts: the rollout planner's cost at the root, and the blast radius of a bad version.
 *
 * 1,000 simulated devices in 20 clusters (quick: 100 in 5), canary 1% + waves 10%,50%,100%, soak 0, run through
 * the real pure cores (RolloutPlanner at the root, one ShareCore per cluster) with an in-memory transport and a
 * fake clock (bench/sim/rollout-fleet.ts): no sockets, so the figures are the orchestration's own work. Baseline,
 * measured in the same run: the same devices as 1,000 one-device clusters, i.e. a root that drives every device
 * itself. Each cluster's reports are coalesced (its latest one is sent once the work in hand is done), as an
 * executor sending at most one report per interval would. Then a version that crashes everywhere: how many devices outside the canary ever ran it (target 0).
 */
import { Fleet } from './sim/rollout-fleet.js';
import { quick, report } from './report.js';

const DEVICES = quick ? 100 : 1000;
const CLUSTERS = quick ? 5 : 20;
const RUNS = quick ? 3 : 5;

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

const grouped = summarize(Array.from({ length: RUNS }, () => healthyRollout(CLUSTERS)));
const flat = summarize(Array.from({ length: RUNS }, () => healthyRollout(DEVICES)));

const bad = new Fleet({ clusters: clusters(CLUSTERS), canary: { percent: 1 }, waves: [10, 50, 100], gates: { soakMs: 60_000 }, behaviour: () => 'crashes', coalesceReports: true }).start().runToEnd();
const badStatus = bad.planner.status();
const canary = new Set(badStatus.devices.filter((d) => d.wave === 0).map((d) => d.id));
const outside = bad.ranNew().filter((id) => !canary.has(id)).length;

const round = (n: number) => Math.round(n * 100) / 100;
report({
  bench: 'rollout',
  tables: [
    {
      title: `Healthy rollout of ${DEVICES} devices, canary 1% + waves 10%,50%,100%, soak 0 (median of ${RUNS})`,
      columns: ['layout', 'to 100% (ms, in-memory)', 'root planner CPU (ms)', 'root planner calls', 'orders sent by the root', 'healthy'],
      rows: [
        [`${CLUSTERS} clusters of ${DEVICES / CLUSTERS}`, round(grouped.wallMs), round(grouped.rootMs), grouped.rootCalls, grouped.orders, grouped.healthy],
        [`baseline: ${DEVICES} one-device clusters`, round(flat.wallMs), round(flat.rootMs), flat.rootCalls, flat.orders, flat.healthy],
        ['ratio baseline / clusters', round(flat.wallMs / grouped.wallMs), round(flat.rootMs / grouped.rootMs), round(flat.rootCalls / grouped.rootCalls), round(flat.orders / grouped.orders), ''],
      ],
      note: 'Pure cores with an in-memory transport and a fake clock (no sockets, no agents): the orchestration work only. The baseline makes the root drive every device itself.',
    },
    {
      title: `A version that crashes everywhere (${DEVICES} devices in ${CLUSTERS} clusters, soak 60 s)`,
      columns: ['final state', 'canary devices', 'devices that ran it', 'touched outside the canary'],
      rows: [[badStatus.state, canary.size, bad.ranNew().length, outside]],
      note: 'Target: 0 devices outside the canary.',
    },
  ],
  figures: {
    devices: DEVICES,
    clusters: CLUSTERS,
    toFullMs: round(grouped.wallMs),
    rootCpuMs: round(grouped.rootMs),
    rootCalls: grouped.rootCalls,
    rootCallsBaseline: flat.rootCalls,
    rootCpuRatioVsPerDevice: round(flat.rootMs / grouped.rootMs),
    touchedOutsideCanary: outside,
  },
});
