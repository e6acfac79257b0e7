import { copyFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'postject';
import { run } from './exec.js';

/** Node's SEA fuse: postject flips it so the binary runs the injected blob instead of acting as plain `node`. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * A Node Single Executable Application: `node --experimental-sea-config` turns the bundle into a blob, postject
 * injects it into a copy of the (already stripped) base binary. The blob is made by the target's own Node (`node`
 * is the argv prefix that runs it, under qemu if need be): a 32-bit Node rejects a blob made by a 64-bit one.
 */
export async function buildSea(opts: { node: string[]; base: string; bundle: string; out: string }): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'flotilla-sea-'));
  try {
    const blob = join(work, 'agent.blob');
    const config = join(work, 'sea-config.json');
    writeFileSync(config, JSON.stringify({ main: opts.bundle, output: blob, disableExperimentalSEAWarning: true }));
    const [cmd, ...pre] = opts.node;
    await run(cmd, [...pre, '--experimental-sea-config', config]);
    copyFileSync(opts.base, opts.out);
    await inject(opts.out, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
    chmodSync(opts.out, 0o755);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
