import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorizePublish, authorizeSubscribe } from '../../coordinator/broker/acl.js';
import { federationMappings } from '../../coordinator/federation/federation.js';
import { checkMappings, mapIn, mapOut } from '../../coordinator/federation/mapping.js';
import { routeTopic } from '../../coordinator/mqtt/topic-route.js';
import { decode } from '../../shared/messages.js';
import { MAX_REVOKED, REVOKED_FROM_PARENT, REVOKED_TOPIC, RevocationList, mergeRevocations, revokedSteps, type Revocation } from '../../shared/revocations.js';
import { generateSigningKey, signatureProblem, signStep, trustedKeys } from '../../shared/signing.js';

const id = (n: number) => n.toString(16).padStart(16, '0');
const revoked = (n: number, revokedAt = n): Revocation => ({ keyId: id(n), revokedAt });

describe('revocation lists', () => {
  it('merge as a union: only new keys are added, a key revoked twice keeps its first entry, nothing new is undefined', () => {
    const list = { keys: [revoked(1, 100)] };
    expect(mergeRevocations(list, [revoked(1, 200), revoked(2), revoked(2, 300)])).toEqual({ list: { keys: [revoked(1, 100), revoked(2)] }, added: [id(2)] });
    expect(mergeRevocations(list, [revoked(1, 200)])).toBeUndefined();
    expect(mergeRevocations(list, [])).toBeUndefined();
    // A stale list (a retained copy from before) can never take a key out.
    expect(mergeRevocations({ keys: [revoked(1), revoked(2)] }, [revoked(1)])).toBeUndefined();
  });

  it('are bounded: more than MAX_REVOKED keys are refused by the schema and by a merge', () => {
    const full = { keys: Array.from({ length: MAX_REVOKED }, (_, i) => revoked(i)) };
    expect(decode(RevocationList, JSON.stringify(full), 'list').keys).toHaveLength(MAX_REVOKED);
    expect(() => decode(RevocationList, JSON.stringify({ keys: [...full.keys, revoked(MAX_REVOKED)] }), 'list')).toThrow(/list: keys/);
    expect(() => mergeRevocations(full, [revoked(MAX_REVOKED)])).toThrow(`more than ${MAX_REVOKED} revoked keys`);
    expect(() => decode(RevocationList, JSON.stringify({ keys: [{ keyId: 'ABC', revokedAt: 1 }] }), 'list')).toThrow(/keyId/);
    expect(() => decode(RevocationList, JSON.stringify({ keys: [{ ...revoked(1), reason: 'x'.repeat(201) }] }), 'list')).toThrow(/reason/);
  });

  it('a signature by a revoked key is refused, with trusted keys or none; another key still verifies', () => {
    const [old, next] = [generateSigningKey(), generateSigningKey()];
    const step = { ref: 'crashy@1', sha256: 'a'.repeat(64) };
    const byOld = signStep(step, createPrivateKey(old.privatePem));
    const byNext = signStep(step, createPrivateKey(next.privatePem));
    const both = trustedKeys([createPublicKey(old.publicPem), createPublicKey(next.publicPem)]);
    const gone = new Set([old.keyId]);
    expect(signatureProblem(both, step, byOld)).toBeUndefined();
    expect(signatureProblem(both, step, byOld, gone)).toBe(`crashy@1 is signed by revoked key ${old.keyId}`);
    expect(signatureProblem(new Map(), step, byOld, gone)).toBe(`crashy@1 is signed by revoked key ${old.keyId}`);
    expect(signatureProblem(both, step, byNext, gone)).toBeUndefined();
    expect(signatureProblem(new Map(), step, undefined, gone)).toBeUndefined();
    const modules = { 'crashy@1': { sha256: step.sha256, size: 1, signature: byOld }, 'crashy@2': { sha256: step.sha256, size: 1, signature: byNext }, 'bare@1': { sha256: step.sha256, size: 1 } };
    expect(revokedSteps(modules, gone)).toEqual(['crashy@1']);
  });
});

describe('the revocation list on the wire', () => {
  const device = { kind: 'device', id: 'mallory' } as const;
  const child = { kind: 'child', name: 'site1' } as const;

  it('devices and children read it; neither may publish it, nor the topic a child coordinator takes its parent\'s from', () => {
    expect(authorizeSubscribe(device, REVOKED_TOPIC).ok).toBe(true);
    expect(authorizeSubscribe(child, REVOKED_TOPIC).ok).toBe(true);
    expect(authorizeSubscribe(device, 'flotilla/keys/#').ok).toBe(false);
    expect(authorizeSubscribe(device, REVOKED_FROM_PARENT).ok).toBe(false);
    for (const who of [device, child]) {
      expect(authorizePublish(who, REVOKED_TOPIC).ok).toBe(false);
      expect(authorizePublish(who, REVOKED_FROM_PARENT).ok).toBe(false);
    }
    expect(authorizePublish({ kind: 'internal' }, REVOKED_TOPIC).ok).toBe(true);
  });

  it('a child bridge brings its parent\'s list in, retained, under the down space; it never goes up', () => {
    const m = federationMappings('site1');
    expect(checkMappings(m)).toEqual([]);
    expect(mapIn(m, REVOKED_TOPIC)).toEqual({ topic: REVOKED_FROM_PARENT, qos: 1, retain: true });
    expect(mapOut(m, REVOKED_TOPIC)).toBeUndefined();
    expect(mapOut(m, REVOKED_FROM_PARENT)).toBeUndefined();
    expect(routeTopic(REVOKED_FROM_PARENT)).toEqual({ kind: 'revocations', label: 'down/revoked' });
    expect(routeTopic(REVOKED_TOPIC)).toBeUndefined();
  });
});
