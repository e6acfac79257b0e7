import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { opt } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { Sha256 } from '../shared/module-fetch.js';
import { signStep, StepSignature, type SignedStep } from '../shared/signing.js';
import { readPrivateKey } from '../shared/signing-keys.js';
import { sha256Hex, type StepManifest } from '../shared/step-manifest.js';
import { readManifestFile } from './step-manifest-file.js';

/** `<dir>/<name>.sig.json` beside `<dir>/<name>.wasm`: the signature and what it is over, to spot a stale one. */
const SignatureFile = StepSignature.extend({ ref: z.string(), sha256: Sha256 });

export function signaturePathOf(wasmPath: string): string {
  return wasmPath.replace(/\.wasm$/, '') + '.sig.json';
}

export const signWith = (keyFile: string, step: SignedStep): StepSignature => signStep(step, readPrivateKey(keyFile));

/** The signature beside the module, if any; one for another ref or other bytes is a ConfigError (sign again). */
export function readSignatureFile(wasmPath: string, step: SignedStep): StepSignature | undefined {
  const path = signaturePathOf(wasmPath);
  if (!existsSync(path)) return undefined;
  let file: z.infer<typeof SignatureFile>;
  try {
    file = SignatureFile.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ConfigError(`${path}: ${errorMessage(err)}`);
  }
  if (file.ref !== step.ref || file.sha256 !== step.sha256) throw new ConfigError(`${path}: signs ${file.ref} (sha256 ${file.sha256}), not ${step.ref} (sha256 ${step.sha256}); sign it again`);
  return { keyId: file.keyId, sig: file.sig };
}

/** The built module and its manifest (required: the manifest holds the name, version and limits signed). */
export function readBuilt(file: string): { bytes: Buffer; manifest: StepManifest | undefined } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  return { bytes, manifest: readManifestFile(file, sha256Hex(bytes)) };
}

export const stepSignCommand = defineCommand(
  {
    command: 'step sign',
    summary: 'sign a built step (its sha256, name@version and manifest limits) with a publisher key, writing FILE.sig.json beside its manifest',
    usage: 'flotilla step sign FILE.wasm --key NAME.key',
    argument: 'FILE.wasm',
    options: { key: { schema: opt.string, required: true, description: 'private key file from `flotilla keys generate`' } },
  },
  async (v, { argument: file }) => {
    const { manifest } = readBuilt(file);
    if (!manifest) throw new ConfigError(`step sign: no manifest beside ${file} (build it with flotilla step build)`);
    const step = { ref: `${manifest.name}@${manifest.version}`, sha256: manifest.sha256, limits: manifest.limits };
    const signature = signWith(v.key, step);
    const path = signaturePathOf(file);
    writeFileSync(path, JSON.stringify({ ref: step.ref, sha256: step.sha256, ...signature }, null, 2) + '\n');
    console.log(`${path} (${step.ref}, sha256 ${step.sha256}, key id ${signature.keyId})`);
    return 0;
  },
);
