import { writeFileSync } from 'node:fs';
import { defineCommand, defineGroup } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { generateSigningKey } from '../shared/signing.js';

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

export const keysCommand = defineGroup('keys', 'manage step publisher keys', [keysGenerateCommand]);
