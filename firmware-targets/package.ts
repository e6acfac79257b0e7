import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { BuildCache } from './cache.js';
import { sha256File } from './cache.js';
import { run } from './exec.js';

/** Every regular file under `dir` (symlinks are recorded by their target), sorted, with its size. */
export function listTree(dir: string, base = dir): { path: string; bytes: number }[] {
  const out: { path: string; bytes: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTree(path, base));
    else out.push({ path: relative(base, path), bytes: entry.isFile() ? statSync(path).size : 0 });
  }
  return out;
}

/** Content hash of the given paths under `dir` (names, modes and bytes): a tarball's cache key, a runtime tree's digest. */
export async function hashEntries(dir: string, entries: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const e of entries) {
    for (const f of statSync(join(dir, e)).isDirectory() ? listTree(join(dir, e), dir) : [{ path: e, bytes: 0 }]) {
      const st = statSync(join(dir, f.path), { throwIfNoEntry: false });
      hash.update(`${f.path}\0${st?.mode ?? 'link'}\0${st?.isFile() ? await sha256File(join(dir, f.path)) : ''}\n`);
    }
  }
  return hash.digest('hex');
}

/**
 * `<dir>/<name>.tar.xz` of `entries` (relative to `dir`), reproducible (sorted, fixed owner and mtime) and cached by
 * content: xz over ~90 MB takes tens of seconds, an unchanged artifact is copied back in milliseconds.
 */
export async function packTarball(cache: BuildCache, dir: string, entries: string[], out: string): Promise<{ hit: boolean }> {
  const key = await hashEntries(dir, entries);
  const { path, hit } = await cache.file('tarballs', `${key}.tar.xz`, async (tmp) => {
    const tar = ['tar', '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', '-', ...entries];
    await run('sh', ['-c', '"$@" | xz -T2 -6 > "$0"', tmp, ...tar]);
  });
  copyFileSync(path, out);
  return { hit };
}

/** SHA256SUMS in `dir` for `files` (relative to `dir`), in the format `sha256sum -c` checks. */
export async function writeSums(dir: string, files: string[]): Promise<string> {
  const lines = [];
  for (const f of files) lines.push(`${await sha256File(join(dir, f))}  ${f}`);
  const text = lines.join('\n') + '\n';
  writeFileSync(join(dir, 'SHA256SUMS'), text);
  return text;
}
