import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KitFile, TargetDescriptor } from './descriptor.js';

/** Template file in firmware-targets/kit/ for each kit entry. */
const KIT_TEMPLATES: Record<KitFile, { template: string; mode: number }> = {
  systemd: { template: 'flotilla-agent.service', mode: 0o644 },
  procd: { template: 'flotilla-agent.procd', mode: 0o755 },
  config: { template: 'agent.json', mode: 0o644 },
};

/** V8 flags the service files set; measured in bench/footprint.ts. */
export const SERVICE_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=32';
/**
 * glibc malloc tuning the service files set: a fixed trim threshold (the default value, but set, which turns off
 * glibc's sliding mmap threshold) lets freed start-up memory (V8's parser zones) go back to the kernel: about 6 MB
 * less private RSS for an idle agent; and blocks of 16 KiB or more in mappings of their own, so a long-lived small
 * block left above them cannot keep them in the heap: another 4 MB (bench/footprint.ts, bench/README.md). Ignored
 * by other libcs.
 */
export const SERVICE_GLIBC_TUNABLES = 'glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=16384';
/** Where the installed agent keeps its A/B slots (writable under the systemd unit's ProtectSystem=strict). */
export const AGENT_HOME = '/var/lib/flotilla/agent';
/** Where install.sh puts the launcher, the one thing the service runs. */
export const LAUNCHER_PATH = '/usr/local/bin/flotilla-launcher';

/** The environment the installed service runs the agent with (besides its config file). */
export const SERVICE_ENV = { NODE_OPTIONS: SERVICE_NODE_OPTIONS, GLIBC_TUNABLES: SERVICE_GLIBC_TUNABLES };

/** Replace every `@NAME@`; a placeholder without a value is a bug in the template or the caller, so it throws. */
export function renderTemplate(text: string, vars: Record<string, string>, name: string): string {
  return text.replace(/@([A-Z_]+)@/g, (_, key: string) => {
    const value = vars[key];
    if (value === undefined) throw new Error(`${name}: no value for @${key}@`);
    return value;
  });
}

/** Values the templates draw on for one target. */
export function templateVars(target: TargetDescriptor): Record<string, string> {
  const sea = target.artifact.kind === 'sea';
  const vars: Record<string, string> = {
    TARGET: target.name,
    KIND: target.artifact.kind,
    EXEC: LAUNCHER_PATH,
    HOME: AGENT_HOME,
    /** The agent's executable inside a slot. */
    ENTRY: sea ? 'flotilla-agent' : 'flotilla/bin/flotilla-agent',
    // A test host runs a foreign SEA under qemu-user (FLOTILLA_EMULATOR, empty on devices); a runtime tree's own
    // script does that for its loader.
    EXEC_PREFIX: sea ? '$FLOTILLA_EMULATOR ' : '',
    NODE_OPTIONS: SERVICE_NODE_OPTIONS,
    GLIBC_TUNABLES: SERVICE_GLIBC_TUNABLES,
    NODE_VERSION: target.node.version,
  };
  if (target.node.from === 'debian') Object.assign(vars, { LOADER: target.node.loader, LIBDIR: target.node.libDir });
  return vars;
}

/** Render one template from `kitDir` to `out` with its mode. */
export function renderFile(kitDir: string, template: string, out: string, vars: Record<string, string>, mode: number): void {
  writeFileSync(out, renderTemplate(readFileSync(join(kitDir, template), 'utf8'), vars, template));
  chmodSync(out, mode);
}

/** The target's install kit (its declared files plus install.sh) into `outDir`. */
export function writeKit(target: TargetDescriptor, kitDir: string, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const vars = templateVars(target);
  for (const entry of target.kit) {
    const { template, mode } = KIT_TEMPLATES[entry];
    renderFile(kitDir, template, join(outDir, template), vars, mode);
  }
  renderFile(kitDir, 'install.sh', join(outDir, 'install.sh'), vars, 0o755);
  renderFile(kitDir, 'flotilla-launcher.sh', join(outDir, 'flotilla-launcher'), vars, 0o755);
}
