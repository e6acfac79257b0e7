/**
 * bench/agent-release.ts: what an over-the-air agent update costs (issue 14).
 *
 * 1. Bytes per device per update, per target: the tarball a device downloads for one update, from the built
 *    artifacts in dist/targets (npm run build:targets): the whole SEA, or for runtime-tree targets the agent bundle
 *    alone beside the whole tree. Targets not built are listed as such.
 * 2. Time for 1,000 simulated devices (quick: 100) to take an agent release: each downloads the artifact from its
 *    coordinator over HTTP (GET /agent-artifacts/<sha256>, 100 at a time) and verifies its sha256, as the agent does
 *    before installing; no agents run. The MIPS bundle flat (all from the root) and through 10 cluster coordinators
 *    (quick: 2), each of which takes it from the root once; a whole SEA from the root. Baseline in the same run: a
 *    bare node:http file server serving the same file to the same clients.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator } from '../coordinator/coordinator.js';
import { listen } from '../coordinator/listen.js';
import { RELEASE_HEADER } from '../shared/agent-release.js';
import { loadTargets } from '../firmware-targets/descriptor.js';
import { OUT_ROOT, TARGETS_DIR } from '../firmware-targets/build.js';
import { BuildRelease } from '../firmware-targets/release-info.js';
import { createLogger } from '../shared/log.js';
import { sha256Hex } from '../shared/step-manifest.js';
import { quick, report, type Cell } from './report.js';

const DEVICES = quick ? 100 : 1000;
const CLUSTERS = quick ? 2 : 10;
const PARALLEL = 100;
const RUNS = quick ? 1 : 3;
const MB = (n: number) => Math.round((n / 1e6) * 100) / 100;

// --- 1. Bytes per device per update ---
const byteRows: Cell[][] = [];
const figures: Record<string, number> = {};
for (const t of loadTargets(TARGETS_DIR)) {
  const file = join(OUT_ROOT, t.name, 'release.json');
  if (!existsSync(file)) {
    byteRows.push([t.name, t.artifact.kind, 'not built', '', '']);
    continue;
  }
  const r = BuildRelease.parse(JSON.parse(readFileSync(file, 'utf8')));
  const full = statSync(join(OUT_ROOT, t.name, r.full.file)).size;
  const update = r.bundle ? statSync(join(OUT_ROOT, t.name, r.bundle.file)).size : full;
  byteRows.push([t.name, r.bundle ? 'agent bundle only (runtime unchanged)' : 'whole SEA', MB(update), MB(full), Math.round((full / update) * 10) / 10]);
  figures[`${t.name.replace('linux-', '')}UpdateMB`] = MB(update);
  if (r.bundle) figures.bundleMB = MB(update);
}

// --- 2. Time for the fleet to take a release ---
const work = mkdtempSync(join(tmpdir(), 'flotilla-bench-release-'));
const silent = createLogger('bench', 'error', () => undefined);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function coordinator(name: string, parentHttp?: string): Promise<Coordinator> {
  return Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: mkdtempSync(join(work, `${name}-`)), cluster: name, log: silent, ...(parentHttp ? { parentHttp: { http: parentHttp } } : {}) });
}

/** `count` simulated devices fetching `urlOf(i)` and verifying the digest, PARALLEL at a time; resolves with ms. */
async function fleet(count: number, sha256: string, urlOf: (i: number) => string): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(urlOf(i));
      const hash = createHash('sha256');
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
      if (res.status !== 200 || hash.digest('hex') !== sha256) throw new Error(`device ${i}: got HTTP ${res.status} and other bytes`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return performance.now() - t0;
}

interface Measured {
  flat: number;
  tree?: number;
  baseline: number;
  upstream?: number;
}

/** The fleet taking `file`: from the root, through the clusters (if `clusters`), and from a bare file server. */
async function measure(file: string, runs: number, clusterCount: number): Promise<Measured> {
  const artifact = readFileSync(file);
  const sha256 = sha256Hex(artifact);
  const size = artifact.length;
  const root = await coordinator('root');
  const rootUrl = `http://127.0.0.1:${root.httpPort}`;
  const put = await fetch(`${rootUrl}/api/v1/agent-releases/linux-x64/bench-1`, {
    method: 'PUT',
    headers: { [RELEASE_HEADER]: JSON.stringify({ sha256, size, kind: 'full', installBytes: size }) },
    body: artifact,
  });
  if (put.status !== 201) throw new Error(`bench: release upload answered ${put.status}`);
  const clusters = await Promise.all(Array.from({ length: clusterCount }, (_, i) => coordinator(`c${i}`, rootUrl)));
  for (const c of clusters) await c.releases.resolveVersion('bench-1');
  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  const barePort = await listen(bare, 0, '127.0.0.1');
  const path = `/agent-artifacts/${sha256}`;
  const flat: number[] = [];
  const tree: number[] = [];
  const baseline: number[] = [];
  for (let run = 0; run < runs; run++) {
    baseline.push(await fleet(DEVICES, sha256, () => `http://127.0.0.1:${barePort}/`));
    flat.push(await fleet(DEVICES, sha256, () => `${rootUrl}${path}`));
    // The first run includes each cluster's one fetch from the root.
    if (clusterCount) tree.push(await fleet(DEVICES, sha256, (i) => `http://127.0.0.1:${clusters[i % clusterCount].httpPort}${path}`));
  }
  bare.close();
  await Promise.all([...clusters, root].map((c) => c.stop()));
  return {
    flat: median(flat),
    baseline: median(baseline),
    ...(clusterCount ? { tree: median(tree), upstream: clusters.reduce((n, c) => n + c.artifacts.upstream.bytes, 0) } : {}),
  };
}

// The MIPS bundle (what a MIPS fleet downloads) through the hierarchy; a whole SEA (what the other targets download)
// from one coordinator. Incompressible bytes of those sizes where the targets are not built.
const synthetic = (name: string, bytes: number) => {
  const f = join(work, name);
  writeFileSync(f, randomBytes(bytes));
  return f;
};
const built = (target: string, bundle: boolean) => {
  const file = join(OUT_ROOT, target, 'release.json');
  if (!existsSync(file)) return undefined;
  const r = BuildRelease.parse(JSON.parse(readFileSync(file, 'utf8')));
  const t = bundle ? r.bundle : r.full;
  return t && join(OUT_ROOT, target, t.file);
};
const bundleFile = built('linux-mipsel', true);
const seaFile = built('linux-arm64', false);
const small = { file: bundleFile ?? synthetic('bundle.artifact', 256 * 1024), what: bundleFile ? 'linux-mipsel agent bundle' : 'synthetic 256 KB artifact (linux-mipsel not built)' };
const large = quick
  ? { file: synthetic('sea.artifact', 2 * 1024 * 1024), what: 'synthetic 2 MB artifact (quick)' }
  : seaFile
    ? { file: seaFile, what: 'linux-arm64 SEA' }
    : { file: synthetic('sea.artifact', 21 * 1024 * 1024), what: 'synthetic 21 MB artifact (linux-arm64 not built)' };
// A whole SEA to 1,000 devices is 21 GB through loopback and sha256: one run, from the root only.
const bundleRun = await measure(small.file, RUNS, CLUSTERS);
const seaRun = await measure(large.file, 1, 0);
const smallMB = MB(statSync(small.file).size);
const largeMB = MB(statSync(large.file).size);
rmSync(work, { recursive: true, force: true });

const round = (n: number) => Math.round(n);
const perDevice = (ms: number) => Math.round((ms / DEVICES) * 100) / 100;
figures.devices = DEVICES;
figures.fleetMs = round(bundleRun.flat);
figures.fleetViaClustersMs = round(bundleRun.tree!);
figures.baselineMs = round(bundleRun.baseline);
figures.ratioVsBareServer = Math.round((bundleRun.flat / bundleRun.baseline) * 100) / 100;
figures.rootUpstreamMB = MB(bundleRun.upstream!);
figures.seaFleetMs = round(seaRun.flat);
figures.seaRatioVsBareServer = Math.round((seaRun.flat / seaRun.baseline) * 100) / 100;

report({
  bench: 'agent-release',
  tables: [
    {
      title: 'Bytes per device for one agent update, per target',
      columns: ['target', 'an update ships', 'update (MB)', 'whole artifact (MB)', 'whole / update'],
      rows: byteRows,
      note: 'xz tarballs from npm run build:targets; a runtime-tree update whose runtime is unchanged ships the agent bundle only.',
    },
    {
      title: `${DEVICES} simulated devices taking one agent release (median of ${RUNS}; the SEA: one run)`,
      columns: ['artifact', 'served by', 'all devices done (ms)', 'per device (ms)', 'MB the root served to clusters'],
      rows: [
        [`${small.what}, ${smallMB} MB`, 'the root coordinator, to every device', round(bundleRun.flat), perDevice(bundleRun.flat), ''],
        ['', `${CLUSTERS} cluster coordinators (each took it from the root once)`, round(bundleRun.tree!), perDevice(bundleRun.tree!), MB(bundleRun.upstream!)],
        ['', 'baseline: bare node:http file server', round(bundleRun.baseline), perDevice(bundleRun.baseline), ''],
        ['', 'ratio root coordinator / baseline', figures.ratioVsBareServer, '', ''],
        [`${large.what}, ${largeMB} MB`, 'the root coordinator, to every device', round(seaRun.flat), perDevice(seaRun.flat), ''],
        ['', 'baseline: bare node:http file server', round(seaRun.baseline), perDevice(seaRun.baseline), ''],
        ['', 'ratio root coordinator / baseline', figures.seaRatioVsBareServer, '', ''],
      ],
      note: `Each device: GET /agent-artifacts/<sha256> over loopback and a sha256 check, ${PARALLEL} at a time; no agents run, so this is the distribution only (an agent then unpacks and restarts).`,
    },
  ],
  figures,
});
