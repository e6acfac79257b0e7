/**
 * Dashboard with a large simulated fleet: a coordinator process, N simulated devices (bench/sim) reporting health
 * every second, and Debian's chromium on the overview. Measures time to first render and to settled render (all N
 * rows) of a cold load, update messages handled per second while the fleet reports, filter latency under that
 * load, and the page's JS heap. Baselines from the same run: fetching and parsing `GET /api/v1/devices` in the same
 * page (the floor for any render) and the health messages the fleet offered per second.
 * Target (issue 7): overview of 1,000 devices loads in < 1 s. Run: `npm run build && node dist/bench/dashboard.js [devices]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { spawnFlotilla } from '../cli/processes.js';
import { simulateFleet } from './sim/acking-fleet.js';

const N = Number(process.argv[2] ?? 1000);
const LOADS = 3;
const UPDATE_WINDOW_MS = 10_000;
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
    if (document.querySelector('tr[data-device]')) window.marks.firstRow ??= performance.now();
    // Settled: every device counted and the first page of rows drawn.
    if (document.querySelector('[data-count="total"]')?.textContent === '${N}' && document.querySelector('tr[data-device]')) window.marks.settled ??= performance.now();
  }).observe(document, { childList: true, subtree: true, characterData: true });
`;
const FETCH_SCRIPT = `(async () => {
  const t0 = performance.now();
  const body = await (await fetch('/api/v1/devices', { headers: { authorization: 'Bearer ${TOKEN}' } })).json();
  if (body.devices.length !== ${N}) throw new Error('expected ${N} devices');
  return performance.now() - t0;
})()`;

/** A cold load in a fresh context (empty cache): ms from navigation start to the first row and to the settled page. */
async function coldLoad() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript({ content: MARK_SCRIPT });
  await page.goto(`${base}/`);
  await page.waitForFunction(() => (globalThis as unknown as { marks: { settled?: number } }).marks.settled !== undefined, undefined, { timeout: 30_000 });
  const marks = (await page.evaluate('window.marks')) as { firstRow: number; settled: number };
  const fetchMs = (await page.evaluate(FETCH_SCRIPT)) as number;
  return { context, page, firstRow: marks.firstRow, settled: marks.settled, fetchMs };
}

const loads = [];
for (let i = 0; i < LOADS; i++) {
  const load = await coldLoad();
  loads.push(load);
  if (i < LOADS - 1) await load.context.close();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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

const fmt = (n: number, d = 0) => n.toFixed(d);
const rows: [string, string, string, string][] = [
  ['time to first render (ms, median of 3 cold loads)', fmt(median(loads.map((l) => l.firstRow))), `${fmt(median(loads.map((l) => l.fetchMs)))} (GET /api/v1/devices fetch+parse)`, fmt(median(loads.map((l) => l.firstRow)) / median(loads.map((l) => l.fetchMs)), 1)],
  ['time to settled render: all counted, first page drawn (ms)', fmt(median(loads.map((l) => l.settled))), `${fmt(median(loads.map((l) => l.fetchMs)))} (same)`, fmt(median(loads.map((l) => l.settled)) / median(loads.map((l) => l.fetchMs)), 1)],
  ['device updates applied per s', fmt((s1.deviceUpdates - s0.deviceUpdates) / seconds), `${fmt(offered)} (health msgs offered/s)`, fmt((s1.deviceUpdates - s0.deviceUpdates) / seconds / offered, 2)],
  ['stream batches per s / renders per s', `${fmt((s1.batches - s0.batches) / seconds, 1)} / ${fmt((s1.renders - s0.renders) / seconds, 1)}`, '–', '–'],
  ['long tasks (>50 ms) during updates: count / max ms', `${longTasks.length} / ${fmt(Math.max(0, ...longTasks))}`, '–', '–'],
  ['filter latency while updating (ms)', fmt(filterMs), '–', '–'],
  ['page JS heap (MiB) / DOM nodes', `${fmt(heapMb, 1)} / ${nodes}`, '–', '–'],
];
console.log(`\nDashboard overview, ${N} simulated devices reporting every 1 s (coordinator + simulator + chromium on one machine)\n`);
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['metric', 'value', 'baseline', 'ratio'][i].length));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(['metric', 'value', 'baseline', 'ratio']));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));

await browser.close();
await sim.stop();
await coordinator.stop();
rmSync(dir, { recursive: true, force: true });
