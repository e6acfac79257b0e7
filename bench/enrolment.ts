/**
 * Enrolment throughput with acknowledge-after-durable: N concurrent `POST /api/v1/devices` through the real HTTP API
 * of an in-process coordinator, each answered only once its token is fsynced. Group commit (the default) against the
 * naive baseline measured in the same run: the same store with `groupCommit: false`, one whole-file write per request.
 * A second table backs the choice of whole-file replace over an append-only journal: one commit of a registry of 1k and
 * 10k devices (temp file + fsync + rename + directory fsync) against one fsynced append of one record.
 * Run: `npm run build && node dist/bench/enrolment.js [--quick]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator } from '../coordinator/coordinator.js';
import { writeFileAtomic } from '../shared/durable/index.js';
import { createLogger } from '../shared/log.js';
import { hashToken, mintToken } from '../coordinator/registry/tokens.js';
import { quick, report } from './report.js';

const ENROLMENTS = quick ? 100 : 1000;
const RUNS = quick ? 1 : 3;
const COMMIT_SAMPLES = quick ? 5 : 25;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Run {
  wallMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  writes: number;
  bytesWritten: number;
  /** Time spent inside the store's writes, summed. */
  writeMs: number;
}

async function enrolBurst(groupCommit: boolean): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-enrol-'));
  let bytesWritten = 0;
  let writeMs = 0;
  const coordinator = await Coordinator.start({
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    dataDir,
    cluster: 'bench',
    log: createLogger('bench', 'error'),
    store: { groupCommit, observer: { commit: (ms, bytes) => ((bytesWritten += bytes), (writeMs += ms)) } },
  });
  try {
    const url = `http://127.0.0.1:${coordinator.httpPort}/api/v1/devices`;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: ENROLMENTS }, async (_, i) => {
        const t0 = performance.now();
        const res = await fetch(url, { method: 'POST', body: JSON.stringify({ id: `dev-${i}` }) });
        if (res.status !== 201) throw new Error(`enrolment ${i}: HTTP ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
      }),
    );
    const wallMs = performance.now() - started;
    return { wallMs, perSecond: (ENROLMENTS / wallMs) * 1000, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), writes: coordinator.registry.stats.writes, bytesWritten, writeMs };
  } finally {
    await coordinator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A registry file of `devices` records, as the Registry serialises it. */
function registryText(devices: number): string {
  const entries = Array.from({ length: devices }, (_, i) => [`dev-${i}`, { id: `dev-${i}`, tokenHash: hashToken(mintToken()), createdAt: Date.now() }]);
  return JSON.stringify({ version: 1, devices: Object.fromEntries(entries) });
}

async function commitCost(devices: number): Promise<{ bytes: number; wholeMs: number; appendMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-commit-'));
  try {
    const text = registryText(devices);
    const record = `${JSON.stringify({ op: 'enrol', id: 'dev-x', tokenHash: hashToken(mintToken()), createdAt: Date.now() })}\n`;
    const whole: number[] = [];
    const append: number[] = [];
    const journal = await open(join(dir, 'journal'), 'a');
    try {
      for (let i = 0; i < COMMIT_SAMPLES; i++) {
        let t0 = performance.now();
        await writeFileAtomic(join(dir, 'registry.json'), text);
        whole.push(performance.now() - t0);
        t0 = performance.now();
        await journal.write(record);
        await journal.sync();
        append.push(performance.now() - t0);
      }
    } finally {
      await journal.close();
    }
    return { bytes: Buffer.byteLength(text), wholeMs: median(whole), appendMs: median(append) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const group: Run[] = [];
  const naive: Run[] = [];
  // Interleaved, so that the machine's load drifts over both variants alike.
  for (let r = 0; r < RUNS; r++) {
    group.push(await enrolBurst(true));
    naive.push(await enrolBurst(false));
  }
  const summary = (runs: Run[]) => ({
    wallMs: median(runs.map((r) => r.wallMs)),
    perSecond: median(runs.map((r) => r.perSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    writes: median(runs.map((r) => r.writes)),
    mbWritten: median(runs.map((r) => r.bytesWritten)) / 1e6,
    writeMs: median(runs.map((r) => r.writeMs)),
  });
  const g = summary(group);
  const n = summary(naive);
  const ratio = g.perSecond / n.perSecond;
  const row = (name: string, s: ReturnType<typeof summary>) => [name, round(s.wallMs, 0), round(s.perSecond, 0), round(s.p50Ms, 0), round(s.p99Ms, 0), s.writes, round(s.mbWritten, 1), round(s.writeMs, 0)];

  const costs = [];
  for (const devices of quick ? [1000] : [1000, 10_000]) costs.push({ devices, ...(await commitCost(devices)) });

  report({
    bench: 'enrolment',
    tables: [
      {
        title: `${ENROLMENTS} concurrent enrolments through the HTTP API, each answered after its fsync (median of ${RUNS} runs)`,
        columns: ['store', 'wall ms', 'enrolments/s', 'p50 latency ms', 'p99 latency ms', 'file writes', 'MB written', 'ms in writes'],
        rows: [row('group commit', g), row('naive: one write per request (baseline)', n), ['ratio group/naive', '', round(ratio, 1), '', '', '', '', '']],
        note: 'Both variants are the same DurableFile (shared/durable); the baseline sets `groupCommit: false`. ext4, fsync on every write.',
      },
      {
        title: `One commit: whole-file replace of the registry vs one fsynced journal append (median of ${COMMIT_SAMPLES})`,
        columns: ['devices', 'file bytes', 'whole-file commit ms', 'journal append ms', 'ratio whole/append'],
        rows: costs.map((c) => [c.devices, c.bytes, round(c.wholeMs, 2), round(c.appendMs, 2), round(c.wholeMs / c.appendMs, 1)]),
        note: 'Whole-file = temp file + write + fsync + rename + directory fsync (writeFileAtomic); append = write + fsync of one record.',
      },
    ],
    figures: {
      enrolments: ENROLMENTS,
      groupPerSecond: round(g.perSecond, 0),
      naivePerSecond: round(n.perSecond, 0),
      ratioGroupVsNaive: round(ratio, 1),
      groupWrites: g.writes,
      naiveWrites: n.writes,
      groupWriteMs: round(g.writeMs, 0),
      naiveWriteMs: round(n.writeMs, 0),
      groupP99Ms: round(g.p99Ms, 0),
      naiveP99Ms: round(n.p99Ms, 0),
      ...Object.fromEntries(costs.flatMap((c) => [[`wholeCommitMs${c.devices}`, round(c.wholeMs, 2)], [`appendCommitMs${c.devices}`, round(c.appendMs, 2)]])),
    },
  });
}

await main();
