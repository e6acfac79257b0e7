import { cpSync, existsSync, lstatSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { run } from './exec.js';

/** Parts of the Debian packages an agent never uses: documentation, headers, iconv modules. */
const PRUNE = ['usr/share/doc', 'usr/share/man', 'usr/share/lintian', 'usr/share/bug', 'usr/include', 'etc'];

/**
 * Unpack Debian debs into `root` as a self-contained runtime tree: `dpkg -x` each, then merge /lib into /usr/lib
 * (bookworm's libc6 still ships /lib; the loader looks in both, one copy is enough) and rewrite absolute symlinks
 * as relative ones, which otherwise point at the host's files under qemu -L and on the device.
 */
export async function unpackRuntime(debs: string[], root: string, libDir: string): Promise<void> {
  rmSync(root, { recursive: true, force: true });
  for (const deb of debs) await run('dpkg', ['-x', deb, root]);
  if (existsSync(join(root, 'lib')) && !lstatSync(join(root, 'lib')).isSymbolicLink()) {
    cpSync(join(root, 'lib'), join(root, 'usr/lib'), { recursive: true, verbatimSymlinks: true });
    rmSync(join(root, 'lib'), { recursive: true });
    symlinkSync('usr/lib', join(root, 'lib'));
  }
  for (const p of [...PRUNE, join(libDir, 'gconv')]) rmSync(join(root, p), { recursive: true, force: true });
  relativizeSymlinks(root, root);
}

function relativizeSymlinks(root: string, dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      const target = readlinkSync(path);
      if (!target.startsWith('/')) continue;
      rmSync(path);
      symlinkSync(relative(dirname(path), join(root, target)) || '.', path);
    } else if (entry.isDirectory()) {
      relativizeSymlinks(root, path);
    }
  }
}
