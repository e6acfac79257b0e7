import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, describeZodError, errorMessage } from '../shared/errors.js';
import { StepLimits, manifestFor, type StepManifest } from '../shared/step-manifest.js';
import { manifestPathOf } from './step-manifest-file.js';

/** `step.json` in a step's source folder: what goes into the manifest besides the sha256. */
const StepSource = z.object({
  name: z.string(),
  version: z.string(),
  entry: z.string().default('index.ts'),
  limits: StepLimits.partial().optional(),
});
export interface BuiltStep {
  wasmPath: string;
  manifestPath: string;
  manifest: StepManifest;
}

/**
 * Compiles an AssemblyScript step folder (`step.json` + its entry, default `index.ts`) with the assemblyscript
 * compiler API and writes `<outDir>/<name>.wasm` and `<outDir>/<name>.manifest.json` (default outDir: DIR/build).
 * `optimize` is asc's optimisation flag (`-O0`..`-O3`, `-Os`, `-Oz`); the default is `-O3s`, speed with a light shrink.
 */
export async function buildStep(dir: string, outDir = join(dir, 'build'), optimize = '-O3s'): Promise<BuiltStep> {
  const sourcePath = join(dir, 'step.json');
  let source: z.infer<typeof StepSource>;
  try {
    const parsed = StepSource.safeParse(JSON.parse(await readFile(sourcePath, 'utf8')));
    if (!parsed.success) throw new Error(describeZodError(parsed.error));
    source = parsed.data;
  } catch (err) {
    throw new ConfigError(`${sourcePath}: ${errorMessage(err)}`);
  }
  // Loaded lazily: the compiler is an authoring tool, never part of an agent.
  const asc = (await import('assemblyscript/asc')).default;
  const errors: string[] = [];
  let wasm: Uint8Array | undefined;
  const result = await asc.main(
    // asc resolves the entry and its imports against --baseDir, the step folder; the output stays in memory.
    [source.entry, '--baseDir', resolve(dir), optimize, '--runtime', 'incremental', '--outFile', 'out.wasm', '--noColors'],
    {
      writeFile: (name: string, contents: Uint8Array | string) => {
        if (name === 'out.wasm' && contents instanceof Uint8Array) wasm = contents;
      },
      stdout: asc.createMemoryStream(),
      stderr: asc.createMemoryStream((chunk) => errors.push(String(chunk))),
    },
  );
  if (result.error || !wasm) throw new Error(`AssemblyScript build of ${basename(resolve(dir))} failed: ${errors.join('').trim() || result.error?.message}`);
  const manifest = manifestFor(wasm, { name: source.name, version: source.version, limits: source.limits });
  await mkdir(outDir, { recursive: true });
  const wasmPath = join(outDir, `${manifest.name}.wasm`);
  const manifestPath = manifestPathOf(wasmPath);
  await writeAtomic(wasmPath, wasm);
  await writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return { wasmPath, manifestPath, manifest };
}

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, data);
  await rename(temp, path);
}
