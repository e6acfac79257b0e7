import { z } from 'zod';
import { ValidationError } from './errors.js';
import type { ModuleRef } from './desired.js';
import { DOWN } from './fleet-topics.js';
import { KeyId } from './signing.js';
import { ROOT } from './topics.js';

/**
 * Revoked publisher keys (docs/flashing.md, "Revoking a key"). A key is revoked at the root; the list travels down
 * every bridge link and reaches every agent, retained, and every coordinator and agent keeps it on disk. A revocation
 * is permanent: lists only grow and are merged as a union, so a stale retained copy can never bring a key back.
 */

/** On every cluster broker, retained: the list, published by that cluster's coordinator only (the ACL). */
export const REVOKED_TOPIC = `${ROOT}/keys/revoked`;
/** Where a child's bridge puts its parent's list (mapped from the parent's REVOKED_TOPIC), for its coordinator. */
export const REVOKED_FROM_PARENT = `${DOWN}/keys/revoked`;

/** Far above any real fleet's revoked keys, small enough that the list is a few tens of KiB on every device. */
export const MAX_REVOKED = 1_000;

export const Revocation = z.object({
  keyId: KeyId,
  revokedAt: z.number().int().nonnegative(),
  reason: z.string().max(200).optional(),
});
export type Revocation = z.infer<typeof Revocation>;

export const RevocationList = z.object({ keys: z.array(Revocation).max(MAX_REVOKED) });
export type RevocationList = z.infer<typeof RevocationList>;

/** `POST /api/v1/keys/revocations` (at the root). */
export const RevocationRequest = z.object({ keyId: KeyId, reason: z.string().max(200).optional() });
export type RevocationRequest = z.infer<typeof RevocationRequest>;

export const EMPTY_REVOCATIONS: RevocationList = { keys: [] };

/**
 * `current` with every key of `incoming` it lacks, and those key ids, or undefined when nothing is new. A key
 * revoked twice keeps its first entry. Throws a ValidationError when the union would exceed MAX_REVOKED.
 */
export function mergeRevocations(current: RevocationList, incoming: readonly Revocation[]): { list: RevocationList; added: string[] } | undefined {
  const known = new Set(current.keys.map((r) => r.keyId));
  const added: Revocation[] = [];
  for (const r of incoming) {
    if (known.has(r.keyId)) continue;
    known.add(r.keyId);
    added.push(r);
  }
  if (added.length === 0) return undefined;
  if (current.keys.length + added.length > MAX_REVOKED) throw new ValidationError(`revocation list: more than ${MAX_REVOKED} revoked keys`);
  return { list: { keys: [...current.keys, ...added] }, added: added.map((r) => r.keyId) };
}

export const revokedKeyIds = (list: RevocationList): ReadonlySet<string> => new Set(list.keys.map((r) => r.keyId));

/** The step refs among `modules` signed by a revoked key (a module carries one signature: signed only by it). */
export function revokedSteps(modules: Record<string, ModuleRef>, revoked: ReadonlySet<string>): string[] {
  return Object.entries(modules)
    .filter(([, m]) => m.signature && revoked.has(m.signature.keyId))
    .map(([ref]) => ref);
}
