import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildCache } from './cache.js';
import { run } from './exec.js';

/**
 * An official Node binary from the npm registry (`node-linux-<arch>` packages carry bin/node), stripped.
 * Strip before injecting a SEA blob: stripping afterwards breaks the injected binary.
 */
export async function npmNodeBinary(cache: BuildCache, pkg: string, version: string): Promise<string> {
  const tgz = await cache.file('downloads', `${pkg}-${version}.tgz`, async (tmp) => {
    const dir = `${tmp}.d`;
    await run('mkdir', ['-p', dir]);
    const { stdout } = await run('npm', ['pack', `${pkg}@${version}`, '--pack-destination', dir, '--silent']);
    await run('mv', [join(dir, stdout.trim().split('\n').pop()!), tmp]);
    await run('rm', ['-rf', dir]);
  });
  const stripped = await cache.file('node', `${pkg}-${version}-stripped`, async (tmp) => {
    await run('sh', ['-c', 'tar -xzOf "$1" package/bin/node > "$2"', 'sh', tgz.path, tmp]);
    // llvm-strip reads every ELF machine; binutils' strip only the host's.
    await run('llvm-strip', ['--strip-all', tmp]);
    await run('chmod', ['755', tmp]);
  });
  return stripped.path;
}

/**
 * Debian debs for one architecture, downloaded with `apt-get download` into the cache (a package already there is
 * not fetched again). Returns the .deb paths. The foreign architecture must be known to dpkg and its package lists
 * fetched; as root we do that once, otherwise we say what to run.
 */
export async function debianDebs(cache: BuildCache, debianArch: string, packages: string[], archIndependent: string[]): Promise<string[]> {
  await ensureForeignArch(debianArch);
  const dir = cache.dir(join('debs', debianArch));
  const wanted = [...packages.map((p) => ({ name: p, spec: `${p}:${debianArch}` })), ...archIndependent.map((p) => ({ name: p, spec: p }))];
  const missing = wanted.filter((w) => !findDeb(dir, w.name));
  if (missing.length) await run('apt-get', ['download', '-q', ...missing.map((m) => m.spec)], { cwd: dir });
  return wanted.map((w) => {
    const deb = findDeb(dir, w.name);
    if (!deb) throw new Error(`apt-get download did not produce ${w.spec}`);
    return deb;
  });
}

function findDeb(dir: string, name: string): string | undefined {
  const matches = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return matches[0];
}

async function ensureForeignArch(debianArch: string): Promise<void> {
  const { stdout: native } = await run('dpkg', ['--print-architecture']);
  const { stdout: foreign } = await run('dpkg', ['--print-foreign-architectures']);
  if (native.trim() === debianArch || foreign.split('\n').includes(debianArch)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`dpkg does not know architecture ${debianArch}: run "dpkg --add-architecture ${debianArch} && apt-get update" as root`);
  }
  console.error(`build-targets: dpkg --add-architecture ${debianArch} && apt-get update`);
  await run('dpkg', ['--add-architecture', debianArch]);
  await run('apt-get', ['update', '-q']);
}
