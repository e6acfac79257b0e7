import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cluster.js';
import { wat } from './harness.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

// The firmware ships the agent as one esbuild file (and as a Node SEA, which runs CommonJS): the step isolate must
// start from inside such a bundle, where no separate worker file exists.
describe('runtime inside a single-file bundle', () => {
  it.each([
    ['esm', false],
    ['cjs', false],
    ['esm', true],
  ] as const)('runs a step from a %s bundle (keepNames: %s)', async (format, keepNames) => {
    const wasm = join(dir.path, 'echo.wasm');
    writeFileSync(wasm, wat('echo'));
    const entry = join(dir.path, `entry-${format}.ts`);
    writeFileSync(
      entry,
      `import { readFileSync } from 'node:fs';
       import { StepRuntime } from ${JSON.stringify(join(import.meta.dirname, '../../agent/runtime/index.ts'))};
       import { manifestFor } from ${JSON.stringify(join(import.meta.dirname, '../../shared/step-manifest.ts'))};
       async function main() {
         const bytes = readFileSync(process.argv[2]);
         const runtime = new StepRuntime();
         const step = await runtime.load(bytes, manifestFor(bytes, { name: 'echo', version: '1' }));
         const handle = await runtime.start({ id: 'echo', step, onOutput: (b) => { console.log(Buffer.from(b).toString()); } });
         handle.push(Buffer.from('from the bundle'));
         while (handle.stats().processed < 1) await new Promise((r) => setImmediate(r));
         console.log(await handle.stop());
       }
       main();`,
    );
    const outfile = join(dir.path, `bundle-${keepNames}.${format === 'esm' ? 'mjs' : 'cjs'}`);
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format, outfile, keepNames, logLevel: 'silent' });
    expect(execFileSync(process.execPath, [outfile, wasm], { encoding: 'utf8' })).toBe('from the bundle\nshutdown\n');
  });
});
