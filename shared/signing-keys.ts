import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from './errors.js';
import { trustedKeys, type TrustedKeys } from './signing.js';

/** Key files (PEM) read at start-up: a bad or missing one is a ConfigError naming it. */
function readKey(path: string, what: string, parse: (pem: string) => KeyObject): KeyObject {
  let key: KeyObject;
  try {
    key = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${what} ${path}: ${errorMessage(err)}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ConfigError(`${what} ${path}: not an ed25519 key (${key.asymmetricKeyType})`);
  return key;
}

export const readPrivateKey = (path: string): KeyObject => readKey(path, 'private key', (pem) => createPrivateKey(pem));

/** The public key of a key file, private or public (`keys revoke` names a key by either). */
export const readPublicKey = (path: string): KeyObject => readKey(path, 'key', (pem) => createPublicKey(pem));

/** `--trust FILE...`: the public keys of trusted publishers (none: every module is accepted). */
export function readTrustedKeys(paths: string[] = []): TrustedKeys {
  // createPublicKey also derives one from a private key: refuse that, a private key has no business on a device.
  const parse = (pem: string) => {
    if (pem.includes('PRIVATE KEY')) throw new Error('this is a private key; give the public one (NAME.pub)');
    return createPublicKey(pem);
  };
  return trustedKeys(paths.map((p) => readKey(p, '--trust', parse)));
}
