import { readFileSync } from 'node:fs';
import { opt } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { sha256Hex } from '../shared/step-manifest.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';
import { readManifestFile } from './step-manifest-file.js';

/** `flotilla step push`: the module base64-encoded with its digest and manifest limits (POST /api/v1/steps). */
export const stepPushCommand = defineCommand(
  {
    command: 'step push',
    summary: "upload a step module to a coordinator's step registry as name@version (default: the manifest's beside it)",
    usage: 'flotilla step push FILE.wasm [--name N] [--version V] [--api URL] [--api-token T]',
    options: {
      name: { schema: opt.string, description: "step name (default: the manifest's)" },
      version: { schema: opt.string, description: "step version (default: the manifest's)" },
      ...apiOptions,
    },
    argument: 'FILE.wasm',
  },
  async (v, { argument: file }) => {
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
  },
);
