import { readFileSync } from 'node:fs';
import { helpText, loadConfig, opt, type CommandSpec } from '../shared/config.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { sha256Hex } from '../shared/step-manifest.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';
import { readManifestFile } from './step-manifest-file.js';

const spec: CommandSpec = {
  command: 'step push',
  summary: "upload a step module to a coordinator's step registry as name@version",
  usage: 'flotilla step push FILE.wasm [--name N] [--version V] [--api URL] [--api-token T]',
  options: [
    { name: 'name', schema: opt.string, description: "step name (default: the manifest's)" },
    { name: 'version', schema: opt.string, description: "step version (default: the manifest's)" },
    ...apiOptions,
  ],
  argument: 'FILE.wasm',
};

/** `flotilla step push`: the module base64-encoded with its digest and manifest limits (POST /api/v1/steps). */
export async function pushStep(argv: string[]): Promise<number> {
  const loaded = loadConfig(spec, argv);
  if (loaded.help) return console.log(helpText(spec)), 0;
  const v = loaded.values as { api: string; 'api-token'?: string; name?: string; version?: string };
  const file = loaded.argument;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  const sha256 = sha256Hex(bytes);
  const manifest = readManifestFile(file, sha256);
  const name = v.name ?? manifest?.name;
  const version = v.version ?? manifest?.version;
  if (!name || !version) throw new ConfigError('step push: --name and --version are required when no manifest lies beside the module');
  const info = await new ApiClient(v.api, v['api-token']).pushStep({ name, version, sha256, module: bytes.toString('base64'), limits: manifest?.limits });
  console.log(`${info.ref} sha256 ${info.sha256} (${info.size} bytes)`);
  return 0;
}
