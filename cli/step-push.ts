import { opt } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { ConfigError } from '../shared/errors.js';
import { sha256Hex } from '../shared/step-manifest.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';
import { readBuilt, readSignatureFile, signWith } from './step-sign.js';

/**
 * `flotilla step push`: the module base64-encoded with its digest, manifest limits and signature (POST
 * /api/v1/steps): signed now with `--sign KEY`, else the one `flotilla step sign` wrote beside it, if any.
 */
export const stepPushCommand = defineCommand(
  {
    command: 'step push',
    summary: "upload a step module to a coordinator's step registry as name@version (default: the manifest's beside it)",
    usage: 'flotilla step push FILE.wasm [--name N] [--version V] [--sign NAME.key] [--api URL] [--api-token T]',
    options: {
      name: { schema: opt.string, description: "step name (default: the manifest's)" },
      version: { schema: opt.string, description: "step version (default: the manifest's)" },
      sign: { schema: opt.string, description: 'sign with this private key (default: FILE.sig.json beside the module, if any)' },
      ...apiOptions,
    },
    argument: 'FILE.wasm',
  },
  async (v, { argument: file }) => {
    const { bytes, manifest } = readBuilt(file);
    const sha256 = sha256Hex(bytes);
    const name = v.name ?? manifest?.name;
    const version = v.version ?? manifest?.version;
    if (!name || !version) throw new ConfigError('step push: --name and --version are required when no manifest lies beside the module');
    const step = { ref: `${name}@${version}`, sha256, limits: manifest?.limits };
    const signature = v.sign ? signWith(v.sign, step) : readSignatureFile(file, step);
    const upload = { name, version, sha256, module: bytes.toString('base64'), limits: manifest?.limits, ...(signature ? { signature } : {}) };
    const info = await new ApiClient(v.api, v['api-token']).pushStep(upload);
    console.log(`${info.ref} sha256 ${info.sha256} (${info.size} bytes)`);
    return 0;
  },
);
