import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildStep } from '../../cli/step-build.js';
import { parseStepManifest, type StepManifest } from '../../shared/step-manifest.js';

const ROOT = join(import.meta.dirname, '../..');
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

/**
 * An example step compiled with the real AssemblyScript compiler, once per source change: builds are cached under
 * .cache/steps/<source hash>/ (written atomically, so parallel test files at worst build twice).
 */
export async function exampleStep(name: string): Promise<{ bytes: Uint8Array; manifest: StepManifest }> {
  const dir = join(ROOT, '.cache/steps', sourceHash(name));
  const wasmPath = join(dir, `${name}.wasm`);
  const manifestPath = join(dir, `${name}.manifest.json`);
  if (!existsSync(manifestPath)) await buildStep(join(EXAMPLES, name), dir);
  return { bytes: readFileSync(wasmPath), manifest: parseStepManifest(JSON.parse(readFileSync(manifestPath, 'utf8'))) };
}
