import { join } from 'node:path';
import type { TargetDescriptor } from './descriptor.js';

/** Where a built target's pieces live under dist/targets/<name>/. */
export function artifactLayout(target: TargetDescriptor, outRoot: string) {
  const dir = join(outRoot, target.name);
  const tree = join(dir, 'flotilla');
  const sea = target.artifact.kind === 'sea';
  return {
    dir,
    /** SEA targets: the single executable. Runtime targets: the launcher script inside the tree. */
    executable: sea ? join(dir, 'flotilla-agent') : join(tree, 'bin', 'flotilla-agent'),
    /** Runtime targets: the unpacked tree (bin/, lib/agent.cjs, runtime/, kit/). */
    tree,
    runtime: join(tree, 'runtime'),
    bundle: join(tree, 'lib', 'agent.cjs'),
    kit: sea ? join(dir, 'kit') : join(tree, 'kit'),
    tarball: join(dir, `flotilla-agent-${target.name}.tar.xz`),
    /** Runtime targets: the agent without its runtime tree, an update for devices that have that runtime. */
    bundleTarball: join(dir, `flotilla-agent-${target.name}-bundle.tar.xz`),
    sums: join(dir, 'SHA256SUMS'),
  };
}

/**
 * The argv prefix that runs one of this target's executables (its Node, or a SEA) on a host of architecture
 * `hostArch`: directly when the host is the target, otherwise under qemu-user. qemu is named explicitly (no binfmt
 * needed) and `-L` points it at the target's libraries: the cross libc on the host, or the runtime tree we ship.
 */
export function nodeCommand(target: TargetDescriptor, executable: string, hostArch: string, runtimeRoot?: string): string[] {
  if (hostArch === target.arch) return [executable];
  if (!target.emulation) throw new Error(`${target.name} runs only on ${target.arch} hosts (this host is ${hostArch})`);
  const sysroot = target.emulation.sysroot === 'runtime' ? runtimeRoot : target.emulation.sysroot;
  if (!sysroot) throw new Error(`${target.name}: emulation needs the runtime tree's path`);
  return [target.emulation.qemu, '-L', sysroot, executable];
}

/** The argv that runs a built agent (with `args`) on a host of architecture `hostArch`. */
export function launchCommand(target: TargetDescriptor, outRoot: string, hostArch: string, args: string[]): string[] {
  const layout = artifactLayout(target, outRoot);
  if (target.node.from === 'npm') return [...nodeCommand(target, layout.executable, hostArch), ...args];
  const node = join(layout.runtime, 'usr/bin/node');
  // Natively this is what bin/flotilla-agent does: Node through the shipped glibc loader, so the device's own libc
  // (musl, or none) does not matter. qemu needs the ELF itself, not the script, hence the same argv built here.
  const prefix =
    hostArch === target.arch
      ? [join(layout.runtime, target.node.loader), '--library-path', join(layout.runtime, target.node.libDir), node]
      : nodeCommand(target, node, hostArch, layout.runtime);
  return [...prefix, layout.bundle, ...args];
}
