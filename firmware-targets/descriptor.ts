import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ValidationError, describeZodError } from '../shared/errors.js';

/** Kit files a target may ship; each names a template in firmware-targets/kit/. */
export const KitFile = z.enum(['systemd', 'procd', 'config']);
export type KitFile = z.infer<typeof KitFile>;

const NpmNode = z.strictObject({
  from: z.literal('npm'),
  package: z.string().regex(/^node-linux-[a-z0-9]+$/, 'must be an official node-linux-<arch> package'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be an exact version'),
});

const DebianNode = z.strictObject({
  from: z.literal('debian'),
  debianArch: z.string().min(1),
  /** Upstream Node version the debs must contain; checked by running the extracted node. */
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be an exact version'),
  /** Architecture-specific debs: nodejs, libnode and every shared library it links. */
  packages: z.array(z.string().min(1)).min(1),
  /** Architecture-independent debs holding builtins Debian's libnode loads from /usr/share/nodejs. */
  sharedPackages: z.array(z.string().min(1)),
  /** The glibc dynamic loader, relative to the runtime root. */
  loader: z.string().min(1),
  /** Where the shared libraries live, relative to the runtime root. */
  libDir: z.string().min(1),
});

export const TargetDescriptor = z
  .strictObject({
    name: z.string().regex(/^linux-[a-z0-9]+$/, 'must look like linux-<arch>'),
    /** What `process.arch` reports on this target. */
    arch: z.enum(['x64', 'arm64', 'arm', 'mips64el', 'mipsel']),
    description: z.string().min(1),
    node: z.discriminatedUnion('from', [NpmNode, DebianNode]),
    artifact: z.discriminatedUnion('kind', [
      // Node Single Executable Application: the bundle injected into an official Node binary.
      z.strictObject({ kind: z.literal('sea') }),
      // No SEA for this Node: a tarball of the runtime tree, the bundle and a launcher.
      z.strictObject({ kind: z.literal('runtime') }),
    ]),
    /** How a different host runs this target's binaries; null when only native hosts can. */
    emulation: z
      .strictObject({
        qemu: z.string().regex(/^qemu-[a-z0-9_]+-static$/),
        /** Library root for qemu -L: an absolute host path, or "runtime" for the artifact's own runtime tree. */
        sysroot: z.string().min(1),
        hostPackages: z.array(z.string().min(1)),
      })
      .nullable(),
    kit: z.array(KitFile).min(1),
  })
  .refine((t) => (t.artifact.kind === 'sea') === (t.node.from === 'npm'), {
    message: 'SEA artifacts need an official (npm) Node binary; a Debian Node needs the runtime artifact',
    path: ['artifact', 'kind'],
  })
  .refine((t) => t.artifact.kind === 'runtime' || t.emulation?.sysroot !== 'runtime', {
    message: 'sysroot "runtime" only exists for runtime artifacts',
    path: ['emulation', 'sysroot'],
  });
export type TargetDescriptor = z.infer<typeof TargetDescriptor>;

/** Parse one target.json; `where` names it in errors. */
export function parseTarget(json: string, where: string): TargetDescriptor {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ValidationError(`${where}: not JSON (${(err as Error).message})`);
  }
  const parsed = TargetDescriptor.safeParse(raw);
  if (!parsed.success) throw new ValidationError(`${where}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Every firmware-targets/<name>/target.json, sorted by name; a folder's name must match its target's. */
export function loadTargets(dir: string): TargetDescriptor[] {
  const targets: TargetDescriptor[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const file = join(dir, entry, 'target.json');
    if (!statSync(join(dir, entry)).isDirectory() || !exists(file)) continue;
    const target = parseTarget(readFileSync(file, 'utf8'), file);
    if (target.name !== entry) throw new ValidationError(`${file}: name "${target.name}" differs from its folder "${entry}"`);
    targets.push(target);
  }
  return targets;
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
