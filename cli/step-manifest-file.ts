import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { parseStepManifest, type StepManifest } from '../shared/step-manifest.js';

/** Where `flotilla step build` writes the manifest of `<dir>/<name>.wasm`: `<dir>/<name>.manifest.json`. */
export function manifestPathOf(wasmPath: string): string {
  return wasmPath.replace(/\.wasm$/, '') + '.manifest.json';
}

/**
 * The manifest at `explicit`, or the one beside the module, or undefined when there is none. A manifest that does
 * not parse, or describes other bytes than `sha256`, is a ConfigError naming the file.
 */
export function readManifestFile(wasmPath: string, sha256: string, explicit?: string): StepManifest | undefined {
  const path = explicit ?? manifestPathOf(wasmPath);
  if (!explicit && !existsSync(path)) return undefined;
  let manifest: StepManifest;
  try {
    manifest = parseStepManifest(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ConfigError(`${path}: ${errorMessage(err)}`);
  }
  if (manifest.sha256 !== sha256) throw new ConfigError(`${path}: its sha256 ${manifest.sha256} is not that of ${wasmPath} (${sha256}); rebuild the step`);
  return manifest;
}
