#!/usr/bin/env node
// `npm run build:targets [-- NAME...]`: the flashable agents, one per firmware-targets/<name>/target.json, into
// dist/targets/<name>/ with SHA256SUMS. Downloads (npm registry, Debian) and slow steps are cached under .cache/.
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleAgent } from './bundle.js';
import { BuildCache, sha256File, sha256Text } from './cache.js';
import { loadTargets, type TargetDescriptor } from './descriptor.js';
import { run } from './exec.js';
import { debianDebs, npmNodeBinary } from './fetch.js';
import { renderFile, templateVars, writeKit } from './kit.js';
import { artifactLayout, launchCommand, nodeCommand } from './launch.js';
import { hashEntries, listTree, packTarball, writeSums } from './package.js';
import { RUNTIME_DIGEST_FILE, type BuildRelease } from './release-info.js';
import { unpackRuntime } from './runtime-tree.js';
import { buildSea } from './sea.js';

/** The repository root, whether this runs from source (vitest) or from dist/firmware-targets/. */
export const REPO_ROOT = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'firmware-targets')}`) ? join(here, '../..') : join(here, '..');
})();
export const TARGETS_DIR = join(REPO_ROOT, 'firmware-targets');
export const OUT_ROOT = join(REPO_ROOT, 'dist', 'targets');

export interface BuiltTarget {
  name: string;
  arch: string;
  kind: string;
  /** Bytes of what runs on the device: the SEA, or the unpacked tree. */
  rawBytes: number;
  xzBytes: number;
  tarball: string;
  seconds: number;
  cacheHits: string[];
}

interface Ctx {
  cache: BuildCache;
  hostArch: string;
  work: string;
}

async function buildTarget(t: TargetDescriptor, ctx: Ctx): Promise<BuiltTarget> {
  const started = performance.now();
  const layout = artifactLayout(t, OUT_ROOT);
  rmSync(layout.dir, { recursive: true, force: true });
  mkdirSync(layout.dir, { recursive: true });
  const hits: string[] = [];
  const bundle = join(ctx.work, `${t.name}.cjs`);
  await bundleAgent({ entry: join(TARGETS_DIR, 'agent-entry.ts'), targetName: t.name, nodeMajor: Number(t.node.version.split('.')[0]), outfile: bundle });

  let entries: string[];
  let rawBytes: number;
  let bundleEntries: string[] | undefined;
  let runtime: string | undefined;
  if (t.node.from === 'npm') {
    const base = await npmNodeBinary(ctx.cache, t.node.package, t.node.version);
    const key = sha256Text(t.node.package, t.node.version, await sha256File(bundle));
    const sea = await ctx.cache.file('sea', `${t.name}-${key}`, (tmp) => buildSea({ node: nodeCommand(t, base, ctx.hostArch), base, bundle, out: tmp }));
    if (sea.hit) hits.push('sea');
    cpSync(sea.path, layout.executable);
    writeKit(t, join(TARGETS_DIR, 'kit'), layout.kit);
    entries = ['flotilla-agent', 'kit'];
    rawBytes = listTree(layout.dir).find((f) => f.path === 'flotilla-agent')!.bytes;
  } else {
    const debs = await debianDebs(ctx.cache, t.node.debianArch, t.node.packages, t.node.sharedPackages);
    const key = sha256Text(...debs.map((d) => relative(ctx.cache.root, d)).sort());
    const { libDir } = t.node;
    const tree = await ctx.cache.file('runtime', `${t.name}-${key}`, (tmp) => unpackRuntime(debs, tmp, libDir));
    if (tree.hit) hits.push('runtime');
    cpSync(tree.path, layout.runtime, { recursive: true, verbatimSymlinks: true });
    mkdirSync(dirname(layout.bundle), { recursive: true });
    cpSync(bundle, layout.bundle);
    mkdirSync(dirname(layout.executable), { recursive: true });
    renderFile(join(TARGETS_DIR, 'kit'), 'launcher.sh', layout.executable, templateVars(t), 0o755);
    writeKit(t, join(TARGETS_DIR, 'kit'), layout.kit);
    await checkNodeVersion(t, layout.runtime, ctx.hostArch);
    // The runtime tree's digest travels in the artifact: an update whose runtime is unchanged ships without it.
    runtime = await hashEntries(layout.tree, ['runtime']);
    writeFileSync(join(layout.tree, RUNTIME_DIGEST_FILE), runtime + '\n');
    entries = ['flotilla'];
    bundleEntries = ['bin', 'lib', 'kit', RUNTIME_DIGEST_FILE].map((e) => join('flotilla', e));
    rawBytes = listTree(layout.tree).reduce((n, f) => n + f.bytes, 0);
  }
  const packed = await packTarball(ctx.cache, layout.dir, entries, layout.tarball);
  if (packed.hit) hits.push('tarball');
  const release: BuildRelease = { target: t.name, full: { file: relative(layout.dir, layout.tarball), installBytes: rawBytes }, ...(runtime ? { runtime } : {}) };
  if (bundleEntries) {
    await packTarball(ctx.cache, layout.dir, bundleEntries, layout.bundleTarball);
    const installBytes = bundleEntries.flatMap((e) => listTree(layout.dir).filter((f) => f.path === e || f.path.startsWith(`${e}/`))).reduce((n, f) => n + f.bytes, 0);
    release.bundle = { file: relative(layout.dir, layout.bundleTarball), installBytes };
  }
  writeFileSync(join(layout.dir, 'release.json'), JSON.stringify(release, null, 2) + '\n');
  await smokeTest(t, ctx.hostArch);
  const tarball = relative(layout.dir, layout.tarball);
  await writeSums(layout.dir, t.artifact.kind === 'sea' ? ['flotilla-agent', tarball] : [tarball]);
  return {
    name: t.name,
    arch: t.arch,
    kind: t.artifact.kind,
    rawBytes,
    xzBytes: listTree(layout.dir).find((f) => f.path === tarball)!.bytes,
    tarball: relative(REPO_ROOT, layout.tarball),
    seconds: (performance.now() - started) / 1000,
    cacheHits: hits,
  };
}

/** Debian's package version is not the whole story (security rebuilds): the unpacked Node must be the one declared. */
async function checkNodeVersion(t: TargetDescriptor, runtime: string, hostArch: string): Promise<void> {
  const [cmd, ...pre] = nodeCommand(t, join(runtime, 'usr/bin/node'), hostArch, runtime);
  const { stdout } = await run(cmd, [...pre, '-p', 'process.version + " " + process.arch']);
  if (stdout.trim() !== `v${t.node.version} ${t.arch}`) throw new Error(`${t.name}: runtime reports "${stdout.trim()}", expected v${t.node.version} ${t.arch}`);
}

/** The built artifact starts on its architecture (emulated here) and answers --help as the agent. */
async function smokeTest(t: TargetDescriptor, hostArch: string): Promise<void> {
  const [cmd, ...args] = launchCommand(t, OUT_ROOT, hostArch, ['--help']);
  const { stdout } = await run(cmd, args);
  if (!stdout.includes('flotilla agent')) throw new Error(`${t.name}: artifact --help printed ${JSON.stringify(stdout.slice(0, 200))}`);
}

export async function buildTargets(names: string[]): Promise<BuiltTarget[]> {
  const all = loadTargets(TARGETS_DIR);
  const unknown = names.filter((n) => !all.some((t) => t.name === n));
  if (unknown.length) throw new Error(`unknown target(s) ${unknown.join(', ')}; known: ${all.map((t) => t.name).join(', ')}`);
  const selected = names.length ? all.filter((t) => names.includes(t.name)) : all;
  const cache = new BuildCache(join(REPO_ROOT, '.cache'));
  const ctx: Ctx = { cache, hostArch: arch(), work: cache.dir('work') };
  const built: BuiltTarget[] = [];
  for (const t of selected) {
    const b = await buildTarget(t, ctx);
    console.error(`build-targets: ${b.name} ${(b.rawBytes / 1e6).toFixed(1)} MB raw, ${(b.xzBytes / 1e6).toFixed(1)} MB xz, ${b.seconds.toFixed(1)} s${b.cacheHits.length ? ` (cached: ${b.cacheHits.join(', ')})` : ''}`);
    built.push(b);
  }
  writeFileSync(join(OUT_ROOT, 'targets.json'), JSON.stringify(built, null, 2) + '\n');
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildTargets(process.argv.slice(2)).then(
    (built) => console.log(JSON.stringify({ event: 'built', targets: built.map((b) => b.name) })),
    (err: unknown) => {
      console.error(`build-targets: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
