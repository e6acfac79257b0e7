import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { StepLimits } from './step-manifest.js';

/**
 * Publisher signatures over steps (docs/flashing.md, "Keys and signed steps"): ed25519 via node:crypto (Node 18+).
 * A signature covers the canonical subject text of `subjectText`: the module's digest, its `name@version` and the
 * limits it runs under, so neither other bytes nor looser limits can borrow a publisher's signature.
 */
export const KeyId = z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits');
export const StepSignature = z.object({
  /** The first 16 hex digits of the sha256 of the publisher's public key (DER SubjectPublicKeyInfo). */
  keyId: KeyId,
  /** The 64-byte ed25519 signature, base64. */
  sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 ed25519 signature (88 characters)'),
});
export type StepSignature = z.infer<typeof StepSignature>;

/** What a signature is over. */
export interface SignedStep {
  ref: string;
  sha256: string;
  limits?: Partial<StepLimits>;
}

/**
 * The canonical text, one field a line: a version tag, `name@version`, the sha256, then every limit with defaults
 * filled in, in a fixed order. Names, versions and digests cannot hold a newline, so the text is unambiguous; the
 * defaults are filled in so that a limit left out and the same limit spelled out sign alike (the agent enforces both alike).
 */
export function subjectText({ ref, sha256, limits }: SignedStep): string {
  const l = StepLimits.parse(limits ?? {});
  return ['flotilla-step-signature-v1', ref, sha256, `maxMemoryPages=${l.maxMemoryPages}`, `timeBudgetMs=${l.timeBudgetMs}`, `maxOutputBytes=${l.maxOutputBytes}`, `maxInputBytes=${l.maxInputBytes}`, ''].join('\n');
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** A new publisher key pair, both PEM (PKCS#8 private, SPKI public), and its key id. */
export function generateSigningKey(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

export function signStep(step: SignedStep, privateKey: KeyObject): StepSignature {
  return { keyId: keyIdOf(createPublicKey(privateKey)), sig: sign(null, Buffer.from(subjectText(step)), privateKey).toString('base64') };
}

const NONE_REVOKED: ReadonlySet<string> = new Set();

/** Trusted publisher keys by key id (several during a rotation). */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

export function trustedKeys(keys: KeyObject[]): TrustedKeys {
  return new Map(keys.map((k) => [keyIdOf(k), k]));
}

/**
 * Why `step` may not run under `trusted`, or undefined when it may (always, when no key is trusted and its key is
 * not revoked). A signature by a revoked key (shared/revocations.ts) is refused whether or not any key is trusted.
 */
export function signatureProblem(trusted: TrustedKeys, step: SignedStep, signature: StepSignature | undefined, revoked: ReadonlySet<string> = NONE_REVOKED): string | undefined {
  if (signature && revoked.has(signature.keyId)) return `${step.ref} is signed by revoked key ${signature.keyId}`;
  if (trusted.size === 0) return undefined;
  if (!signature) return `${step.ref} is unsigned (trusted keys: ${[...trusted.keys()].join(', ')})`;
  const key = trusted.get(signature.keyId);
  if (!key) return `${step.ref} is signed by untrusted key ${signature.keyId} (trusted keys: ${[...trusted.keys()].join(', ')})`;
  if (!verify(null, Buffer.from(subjectText(step)), key, Buffer.from(signature.sig, 'base64'))) {
    return `${step.ref}: bad signature by key ${signature.keyId} (it does not cover sha256 ${step.sha256} with these limits)`;
  }
  return undefined;
}
