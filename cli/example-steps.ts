import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStepManifest, type StepManifest } from '../shared/step-manifest.js';
import { buildStep } from './step-build.js';

const here = fileURLToPath(import.meta.url);
/** The checkout: this file runs from cli/ (tests, from source) or dist/cli/ (the built CLI). */
const ROOT = join(dirname(here), here.endsWith('.ts') ? '..' : '../..');
export const EXAMPLES = join(ROOT, 'examples/steps');

/** Hash of everything a build depends on: the step's folder, the SDK, and the compiler version. */
function sourceHash(name: string): string {
  const hash = createHash('sha256');
  for (const dir of [join(EXAMPLES, 'sdk'), join(EXAMPLES, name)]) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') || f.endsWith('.json')).sort()) {
      hash.update(`${dir}/${file}\0`).update(readFileSync(join(dir, file)));
    }
  }
  hash.update(JSON.parse(readFileSync(join(ROOT, 'node_modules/assemblyscript/package.json'), 'utf8')).version);
  return hash.digest('hex').slice(0, 16);
}

export interface ExampleStep {
  wasmPath: string;
  bytes: Uint8Array;
  manifest: StepManifest;
}

/**
 * An example step (examples/steps/<name>) compiled with the real AssemblyScript compiler, offline, once per source
 * change: builds are cached under .cache/steps/<source hash>/ (written atomically, so concurrent users at worst
 * build twice). Used by `flotilla demo` and the tests; `optimize` (an asc flag such as `-O0`) builds a variant.
 */
export async function exampleStep(name: string, optimize?: string): Promise<ExampleStep> {
  const dir = join(ROOT, '.cache/steps', optimize ? `${sourceHash(name)}${optimize}` : sourceHash(name));
  const wasmPath = join(dir, `${name}.wasm`);
  const manifestPath = join(dir, `${name}.manifest.json`);
  if (!existsSync(manifestPath)) await buildStep(join(EXAMPLES, name), dir, optimize);
  return { wasmPath, bytes: readFileSync(wasmPath), manifest: parseStepManifest(JSON.parse(readFileSync(manifestPath, 'utf8'))) };
}
