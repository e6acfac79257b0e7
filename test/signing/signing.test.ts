import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, keyIdOf, signatureProblem, signStep, subjectText, trustedKeys } from '../../shared/signing.js';
import { DEFAULT_LIMITS } from '../../shared/step-abi.js';

const publisher = () => {
  const pair = generateSigningKey();
  return { ...pair, private: createPrivateKey(pair.privatePem), public: createPublicKey(pair.publicPem) };
};
const a = publisher();
const b = publisher();
const step = { ref: 'sensor@1.2.0', sha256: 'a'.repeat(64), limits: { timeBudgetMs: 50 } };

describe('step signatures (ed25519 over the canonical subject)', () => {
  it('the subject is one field a line, with every limit spelled out in a fixed order', () => {
    expect(subjectText(step)).toBe(
      [
        'flotilla-step-signature-v1',
        'sensor@1.2.0',
        'a'.repeat(64),
        `maxMemoryPages=${DEFAULT_LIMITS.maxMemoryPages}`,
        'timeBudgetMs=50',
        `maxOutputBytes=${DEFAULT_LIMITS.maxOutputBytes}`,
        `maxInputBytes=${DEFAULT_LIMITS.maxInputBytes}`,
        '',
      ].join('\n'),
    );
    // A limit left out and the same default spelled out are the same subject: the agent enforces both alike.
    expect(subjectText({ ...step, limits: undefined })).toBe(subjectText({ ...step, limits: { ...DEFAULT_LIMITS } }));
  });

  it('the key id is the start of the sha256 of the public key, the same from the private key', () => {
    expect(a.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(createPublicKey(a.private))).toBe(a.keyId);
    expect(a.keyId).not.toBe(b.keyId);
  });

  it('accepts a module signed by a trusted key and anything when no key is trusted', () => {
    const signature = signStep(step, a.private);
    expect(signature.keyId).toBe(a.keyId);
    expect(signatureProblem(trustedKeys([a.public]), step, signature)).toBeUndefined();
    expect(signatureProblem(trustedKeys([]), step, undefined)).toBeUndefined();
  });

  it('refuses an unsigned module, one signed by an untrusted key, and a signature over other bytes, ref or limits', () => {
    const trusted = trustedKeys([a.public]);
    const signature = signStep(step, a.private);
    expect(signatureProblem(trusted, step, undefined)).toBe(`sensor@1.2.0 is unsigned (trusted keys: ${a.keyId})`);
    expect(signatureProblem(trusted, step, signStep(step, b.private))).toBe(`sensor@1.2.0 is signed by untrusted key ${b.keyId} (trusted keys: ${a.keyId})`);
    for (const tampered of [{ ...step, sha256: 'b'.repeat(64) }, { ...step, ref: 'sensor@1.2.1' }, { ...step, limits: { timeBudgetMs: 5000 } }]) {
      expect(signatureProblem(trusted, tampered, signature)).toMatch(new RegExp(`bad signature by key ${a.keyId}`));
    }
    // A signature claiming a trusted key id but made with another key fails verification under the trusted key.
    expect(signatureProblem(trusted, step, { ...signStep(step, b.private), keyId: a.keyId })).toMatch(/bad signature/);
  });

  it('key rotation: with two trusted keys, a module signed by either runs', () => {
    const trusted = trustedKeys([a.public, b.public]);
    expect(signatureProblem(trusted, step, signStep(step, a.private))).toBeUndefined();
    expect(signatureProblem(trusted, step, signStep(step, b.private))).toBeUndefined();
    expect(signatureProblem(trustedKeys([b.public]), step, signStep(step, a.private))).toMatch(/untrusted key/);
  });
});
