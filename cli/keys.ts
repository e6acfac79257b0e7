import { existsSync, writeFileSync } from 'node:fs';
import { opt } from '../shared/config.js';
import { defineCommand, defineGroup } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { KeyId, generateSigningKey, keyIdOf } from '../shared/signing.js';
import { readPublicKey } from '../shared/signing-keys.js';
import type { RevocationList } from '../shared/revocations.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

/** `flotilla keys generate NAME`: NAME.key (private, mode 0600) and NAME.pub (give it to agents and coordinators as --trust). */
const keysGenerateCommand = defineCommand(
  {
    command: 'keys generate',
    summary: 'write a step publisher key pair: NAME.key (ed25519 private key, mode 0600) and NAME.pub (its public key, for --trust)',
    usage: 'flotilla keys generate NAME',
    argument: 'NAME',
    options: {},
  },
  async (_v, { argument: name }) => {
    const { privatePem, publicPem, keyId } = generateSigningKey();
    try {
      // `wx`: never overwrite a key, which would orphan everything it signed.
      writeFileSync(`${name}.key`, privatePem, { mode: 0o600, flag: 'wx' });
      writeFileSync(`${name}.pub`, publicPem, { flag: 'wx' });
    } catch (err) {
      throw new ConfigError(`keys generate: ${errorMessage(err)}`);
    }
    console.log(`${name}.key ${name}.pub (key id ${keyId})`);
    return 0;
  },
);

/** A key file (public or private: the key id is the public key's) or a key id as `keys generate` printed it. */
function keyIdFrom(arg: string): string {
  if (existsSync(arg)) return keyIdOf(readPublicKey(arg));
  if (KeyId.safeParse(arg).success) return arg;
  throw new ConfigError(`keys revoke: ${arg} is neither a key file nor a key id (16 lowercase hex digits)`);
}

const formatList = (list: RevocationList) =>
  list.keys.length ? list.keys.map((r) => `${r.keyId}  revoked ${new Date(r.revokedAt).toISOString()}${r.reason ? `  ${r.reason}` : ''}`).join('\n') : 'no revoked keys';

/** `flotilla keys revoke KEYFILE|KEYID`: at the root; every coordinator and agent below gets the list (retained). */
const keysRevokeCommand = defineCommand(
  {
    command: 'keys revoke',
    summary: 'revoke a publisher key fleet-wide, at the root coordinator: its signatures are refused from then on (permanent)',
    usage: 'flotilla keys revoke KEYFILE|KEYID [--reason TEXT] --api ROOT',
    argument: 'KEYFILE|KEYID',
    options: { ...apiOptions, reason: { schema: opt.string, description: 'why, kept with the revocation (at most 200 characters)' } },
  },
  async (v, { argument }) => {
    const list = await new ApiClient(v.api, v['api-token']).revoke({ keyId: keyIdFrom(argument), ...(v.reason ? { reason: v.reason } : {}) });
    console.log(formatList(list));
    return 0;
  },
);

const keysRevokedCommand = defineCommand(
  { command: 'keys revoked', summary: 'list the revoked publisher keys a coordinator holds', options: { ...apiOptions } },
  async (v) => {
    console.log(formatList(await new ApiClient(v.api, v['api-token']).revocations()));
    return 0;
  },
);

export const keysCommand = defineGroup('keys', 'manage step publisher keys', [keysGenerateCommand, keysRevokeCommand, keysRevokedCommand]);
