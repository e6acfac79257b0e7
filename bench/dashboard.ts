/**
 * Dashboard with a large simulated fleet: a coordinator process, N simulated devices (bench/sim) reporting health
 * every second, and Debian's chromium on the overview. Two moments of a cold load, measured separately: first render
 * (the snapshot drawn: every device counted, the first page of rows) and live (the first stream batch that arrived
 * after it, drawn); then update messages handled per second while the fleet reports, filter latency under that load,
 * and the page's JS heap. Baselines from the same run: fetching and parsing `GET /api/v1/devices` in the same page
 * (the floor for any render) and the health messages the fleet offered per second. Target (issue 7): overview of
 * 1,000 devices loads in < 1 s. Run: `npm run build && node dist/bench/dashboard.js [devices] [--quick]` (quick: 20
 * devices, one load, 2 s of updates).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { spawnFlotilla } from '../cli/processes.js';
import { median } from './proc-rss.js';
import { quick, report } from './report.js';
import { simulateFleet } from './sim/acking-fleet.js';

const sizeArg = process.argv.slice(2).find((a) => /^\d+$/.test(a));
const N = quick ? 20 : Number(sizeArg ?? 1000);
const LOADS = quick ? 1 : 3;
const UPDATE_WINDOW_MS = quick ? 2_000 : 10_000;
const TOKEN = 'bench-dashboard-token';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-dashboard-'));
const coordinator = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dir, '--cluster', 'bench', '--api-token', TOKEN, '--log-level', 'warn']);
const { http, mqtt } = (await coordinator.waitFor('listening')) as { http: number; mqtt: number };
const base = `http://127.0.0.1:${http}`;
const sim = await simulateFleet({ api: base, mqttUrl: `mqtt://127.0.0.1:${mqtt}`, apiToken: TOKEN, count: N, intervalS: 1 });

const cluster = async () => (await (await fetch(`${base}/api/v1/cluster`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { devices: { online: number } };
while ((await cluster()).devices.online < N) await new Promise((r) => setTimeout(r, 200));

const browser: Browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// In-page code runs in chromium, so it is passed as source text (this file is compiled without DOM types).
const MARK_SCRIPT = `
  sessionStorage.setItem('flotilla.apiToken', ${JSON.stringify(TOKEN)});
  window.marks = {};
  new MutationObserver(() => {
    const stats = window.flotilla?.stats;
    // First render: the snapshot drawn, every device counted and the first page of rows on screen.
    if (window.marks.firstRender === undefined && document.querySelector('[data-count="total"]')?.textContent === '${N}' && document.querySelector('tr[data-device]')) {
      window.marks.firstRender = performance.now();
      window.marks.batchesAtFirst = stats?.batches ?? 0;
      window.marks.rendersAtFirst = stats?.renders ?? 0;
    }
    // Live: a later render that drew a stream batch received after the first render.
    else if (window.marks.firstRender !== undefined && window.marks.live === undefined && stats && stats.batches > window.marks.batchesAtFirst && stats.renders > window.marks.rendersAtFirst) window.marks.live = performance.now();
  }).observe(document, { childList: true, subtree: true, characterData: true });
`;
const FETCH_SCRIPT = `(async () => {
  const t0 = performance.now();
  const body = await (await fetch('/api/v1/devices', { headers: { authorization: 'Bearer ${TOKEN}' } })).json();
  if (body.devices.length !== ${N}) throw new Error('expected ${N} devices');
  return performance.now() - t0;
})()`;

/** A cold load in a fresh context (empty cache): ms from navigation start to the first render and to the live page. */
async function coldLoad() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript({ content: MARK_SCRIPT });
  await page.goto(`${base}/`);
  await page.waitForFunction(() => (globalThis as unknown as { marks: { live?: number } }).marks.live !== undefined, undefined, { timeout: 30_000 });
  const marks = (await page.evaluate('window.marks')) as { firstRender: number; live: number };
  const fetchMs = (await page.evaluate(FETCH_SCRIPT)) as number;
  return { context, page, firstRender: marks.firstRender, live: marks.live, fetchMs };
}

const loads = [];
for (let i = 0; i < LOADS; i++) {
  const load = await coldLoad();
  loads.push(load);
  if (i < LOADS - 1) await load.context.close();
}
const { page } = loads[LOADS - 1];

// Live updates: what the page applied while the fleet kept reporting.
type Stats = { batches: number; deviceUpdates: number; renders: number };
const stats = async () => (await page.evaluate('({ ...window.flotilla.stats })')) as Stats;
await page.evaluate(`window.longTasks = [];
  new PerformanceObserver((list) => list.getEntries().forEach((e) => window.longTasks.push(e.duration))).observe({ type: 'longtask' });`);
const s0 = await stats();
const p0 = sim.published();
const t0 = Date.now();
await new Promise((r) => setTimeout(r, UPDATE_WINDOW_MS));
const s1 = await stats();
const seconds = (Date.now() - t0) / 1000;
const offered = (sim.published() - p0) / seconds;
const longTasks = (await page.evaluate('window.longTasks')) as number[];

// Responsiveness under load: type a filter, wait for the table to follow.
const filterMs = (await page.evaluate(`(async () => {
  const input = document.querySelector('input[name="q"]');
  const t = performance.now();
  input.value = 'sim-001';
  input.dispatchEvent(new Event('input', { bubbles: true }));
  while (!/^\\d+ of/.test(document.getElementById('shown-count').textContent) || document.querySelectorAll('tr[data-device]').length > 10) await new Promise((r) => requestAnimationFrame(r));
  return performance.now() - t;
})()`)) as number;

const cdp = await page.context().newCDPSession(page);
await cdp.send('Performance.enable');
const metrics = (await cdp.send('Performance.getMetrics')).metrics;
const heapMb = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 1024 / 1024;
const nodes = metrics.find((m) => m.name === 'Nodes')?.value ?? 0;

const r1 = (n: number) => Math.round(n * 10) / 10;
const firstRender = median(loads.map((l) => l.firstRender));
const live = median(loads.map((l) => l.live));
const fetchMs = median(loads.map((l) => l.fetchMs));
const applied = (s1.deviceUpdates - s0.deviceUpdates) / seconds;
const figures = {
  devices: N,
  firstRenderMs: Math.round(firstRender),
  liveMs: Math.round(live),
  fetchMs: Math.round(fetchMs),
  updatesAppliedPerS: Math.round(applied),
  healthOfferedPerS: Math.round(offered),
  batchesPerS: r1((s1.batches - s0.batches) / seconds),
  rendersPerS: r1((s1.renders - s0.renders) / seconds),
  longTasks: longTasks.length,
  longTaskMaxMs: Math.round(Math.max(0, ...longTasks)),
  filterMs: Math.round(filterMs),
  heapMiB: r1(heapMb),
  domNodes: nodes,
};
report({
  bench: 'dashboard',
  tables: [
    {
      title: `Dashboard overview, ${N} simulated devices reporting every 1 s (coordinator, simulator and chromium on one machine)`,
      columns: ['metric', 'value', 'baseline', 'ratio'],
      rows: [
        [`first render: all counted, first page of rows drawn (ms, median of ${LOADS} cold loads)`, figures.firstRenderMs, `${figures.fetchMs} (GET /api/v1/devices fetch+parse in the page)`, r1(firstRender / fetchMs)],
        ['live: first stream batch after it drawn (ms)', figures.liveMs, `${figures.fetchMs} (same)`, r1(live / fetchMs)],
        ['device updates applied per s', figures.updatesAppliedPerS, `${figures.healthOfferedPerS} (health messages offered per s)`, Math.round((applied / offered) * 100) / 100],
        ['stream batches / renders per s', `${figures.batchesPerS} / ${figures.rendersPerS}`, '–', '–'],
        [`long tasks (> 50 ms) during ${UPDATE_WINDOW_MS / 1000} s of updates: count / max ms`, `${figures.longTasks} / ${figures.longTaskMaxMs}`, '–', '–'],
        ['filter latency while updating (ms)', figures.filterMs, '–', '–'],
        ['page JS heap (MiB) / DOM nodes', `${figures.heapMiB} / ${figures.domNodes}`, '–', '–'],
      ],
    },
  ],
  figures,
});

await browser.close();
await sim.stop();
await coordinator.stop();
rmSync(dir, { recursive: true, force: true });
