import { existsSync, readFileSync } from 'node:fs';
import { helpText, loadConfig, opt, type CommandSpec } from '../shared/config.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { parseStepManifest, sha256Hex, type StepManifest } from '../shared/step-manifest.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

const spec: CommandSpec = {
  command: 'step push',
  summary: "upload a step module to a coordinator's step registry as name@version",
  usage: 'flotilla step push FILE.wasm [--name N] [--version V] [--api URL] [--api-token T]',
  options: [
    { name: 'name', schema: opt.string, description: "step name (default: the manifest's)" },
    { name: 'version', schema: opt.string, description: "step version (default: the manifest's)" },
    ...apiOptions,
  ],
  positionals: true,
};

/** The manifest `flotilla step build` wrote beside the module, if any; it must describe these bytes. */
function manifestBeside(wasmPath: string, sha256: string): StepManifest | undefined {
  const path = wasmPath.replace(/\.wasm$/, '') + '.manifest.json';
  if (!existsSync(path)) return undefined;
  let manifest: StepManifest;
  try {
    manifest = parseStepManifest(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ConfigError(`${path}: ${errorMessage(err)}`);
  }
  if (manifest.sha256 !== sha256) throw new ConfigError(`${path}: its sha256 ${manifest.sha256} is not that of ${wasmPath} (${sha256}); rebuild the step`);
  return manifest;
}

/** `flotilla step push`: the module base64-encoded with its digest and manifest limits (POST /api/v1/steps). */
export async function pushStep(argv: string[]): Promise<number> {
  const loaded = loadConfig(spec, argv);
  if (loaded.help) return console.log(helpText(spec)), 0;
  if (loaded.positionals.length !== 1) throw new ConfigError('step push: expected exactly one FILE.wasm');
  const v = loaded.values as { api: string; 'api-token'?: string; name?: string; version?: string };
  const file = loaded.positionals[0];
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  const sha256 = sha256Hex(bytes);
  const manifest = manifestBeside(file, sha256);
  const name = v.name ?? manifest?.name;
  const version = v.version ?? manifest?.version;
  if (!name || !version) throw new ConfigError('step push: --name and --version are required when no manifest lies beside the module');
  const info = await new ApiClient(v.api, v['api-token']).pushStep({ name, version, sha256, module: bytes.toString('base64'), limits: manifest?.limits });
  console.log(`${info.ref} sha256 ${info.sha256} (${info.size} bytes)`);
  return 0;
}
