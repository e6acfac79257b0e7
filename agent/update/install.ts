import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentRelease } from '../../shared/agent-release.js';
import type { SlotHome, Slot } from './slots.js';

const exec = promisify(execFile);

/** Runtime trees live once under `<home>/runtimes/<digest>`; a slot links to its own: this, from `slots/<s>/flotilla/`. */
const runtimeLink = (digest: string) => join('..', '..', '..', 'runtimes', digest);

/**
 * Install a downloaded, verified release into `slot` (the inactive one): unpack beside it (`<slot>.new`), put a
 * runtime tree in the shared runtimes folder (a bundle-only release links the one the device has), write the signed
 * release beside it, then swap it in. The other slot, the one running, is not touched, except that its runtime tree
 * may move into the shared folder (a rename and a link, on the same file system).
 */
export async function installRelease(home: SlotHome, slot: Slot, tarball: string, release: AgentRelease): Promise<void> {
  const dir = home.dir(slot);
  const staging = `${dir}.new`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  // The device's tar (GNU tar, or busybox built with xz) unpacks what build:targets packed.
  await exec('tar', ['-xJf', tarball, '-C', staging]);
  if (release.runtime) await placeRuntime(home, slot, staging, release);
  await writeFile(join(staging, 'release.json'), JSON.stringify(release) + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  await pruneRuntimes(home);
}

async function placeRuntime(home: SlotHome, slot: Slot, staging: string, release: AgentRelease): Promise<void> {
  const digest = release.runtime!;
  const shared = join(home.home, 'runtimes', digest);
  const unpacked = join(staging, 'flotilla', 'runtime');
  await mkdir(join(home.home, 'runtimes'), { recursive: true });
  if (release.kind === 'full') {
    if (existsSync(shared)) await rm(unpacked, { recursive: true, force: true });
    else await rename(unpacked, shared);
  } else if (!existsSync(shared)) {
    await adoptRuntime(home, slot === 'a' ? 'b' : 'a', digest, shared);
  }
  await symlink(runtimeLink(digest), unpacked);
}

/** The runtime tree flashed into the other slot moves to the shared folder, if it is the one the bundle needs. */
async function adoptRuntime(home: SlotHome, other: Slot, digest: string, shared: string): Promise<void> {
  const tree = join(home.dir(other), 'flotilla');
  const has = existsSync(join(tree, 'runtime.sha256')) && readFileSync(join(tree, 'runtime.sha256'), 'utf8').trim() === digest;
  if (!has || lstatSync(join(tree, 'runtime')).isSymbolicLink()) {
    throw new Error(`the runtime tree this bundle needs (${digest.slice(0, 12)}) is not on the device: release the full artifact`);
  }
  await rename(join(tree, 'runtime'), shared);
  await symlink(runtimeLink(digest), join(tree, 'runtime'));
}

/** Runtime trees no slot links to any more. */
async function pruneRuntimes(home: SlotHome): Promise<void> {
  const root = join(home.home, 'runtimes');
  if (!existsSync(root)) return;
  const used = new Set<string>();
  for (const s of ['a', 'b'] as const) {
    const link = join(home.dir(s), 'flotilla', 'runtime');
    if (existsSync(link) && lstatSync(link).isSymbolicLink()) used.add(basename(readlinkSync(link)));
  }
  for (const d of readdirSync(root)) if (!used.has(d)) await rm(join(root, d), { recursive: true, force: true });
}
