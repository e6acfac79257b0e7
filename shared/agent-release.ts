import { sign, verify, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { keyIdOf, StepSignature, type TrustedKeys } from './signing.js';

/**
 * Agent releases (docs/flashing.md, "Over-the-air agent updates"): a built artifact for one firmware target, signed
 * by a publisher, kept by the root per target and version, served content-addressed down the hierarchy and
 * installed by the device into its inactive A/B slot.
 */
// Not module-fetch's Sha256: shared/messages.ts imports this file, and module-fetch imports messages.
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

export const AgentVersion = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ + - starting with a letter or digit');
export const TargetName = z.string().regex(/^linux-[a-z0-9]{1,16}$/, 'must look like linux-<arch>');
/** `full`: the whole artifact; `bundle`: a runtime-tree target's agent bundle only, for a device that has `runtime`. */
export const ReleaseKind = z.enum(['full', 'bundle']);

/** What a release's signature covers; also what `flotilla agent-release push` reads from the build (release.json). */
export const ReleaseSubject = z.object({
  target: TargetName,
  version: AgentVersion,
  sha256: Sha256,
  size: z.number().int().positive(),
  kind: ReleaseKind,
  /** Runtime-tree targets: the digest of the runtime tree the release ships (full) or needs (bundle). */
  runtime: Sha256.optional(),
  /** Bytes the unpacked release takes on the device (checked against free disk space before the download). */
  installBytes: z.number().int().nonnegative(),
});
export type ReleaseSubject = z.infer<typeof ReleaseSubject>;

export const AgentRelease = ReleaseSubject.extend({
  signature: StepSignature.optional(),
  uploadedAt: z.number().nonnegative(),
});
export type AgentRelease = z.infer<typeof AgentRelease>;

export const AgentReleaseList = z.object({ releases: z.array(AgentRelease) });
export type AgentReleaseList = z.infer<typeof AgentReleaseList>;

/** `target@version`, the registry's key. */
export const releaseKey = (target: string, version: string): string => `${target}@${version}`;

/** The upload header carrying a release's subject and signature (JSON); the body is the artifact itself. */
export const RELEASE_HEADER = 'x-flotilla-release';

/** Where a coordinator serves an artifact: content-addressed, so a cache at any hop never serves stale bytes. */
export const artifactPath = (sha256: string): string => `/agent-artifacts/${sha256}`;

/**
 * The canonical signed text, one field a line (none can hold a newline): a version tag, then every subject field in
 * a fixed order. A signature over one target's artifact cannot be replayed for another target or version.
 */
export function releaseSubjectText(r: ReleaseSubject): string {
  return ['flotilla-agent-release-v1', r.target, r.version, r.sha256, `size=${r.size}`, `kind=${r.kind}`, `runtime=${r.runtime ?? '-'}`, `installBytes=${r.installBytes}`, ''].join('\n');
}

export function signRelease(subject: ReleaseSubject, privateKey: KeyObject): StepSignature {
  return { keyId: keyIdOf(createPublicKey(privateKey)), sig: sign(null, Buffer.from(releaseSubjectText(subject)), privateKey).toString('base64') };
}

/**
 * Why a release may not be installed under `trusted`, or undefined when it may. Unlike steps, a release must be
 * signed whenever any key is trusted, and an agent without trusted keys accepts only what its coordinator vouched
 * for by digest. As for steps, a signature by a `revoked` key (shared/revocations.ts) is refused, trusted keys or not.
 */
export function releaseSignatureProblem(trusted: TrustedKeys, r: ReleaseSubject & { signature?: StepSignature }, revoked: ReadonlySet<string> = new Set()): string | undefined {
  const what = `agent release ${releaseKey(r.target, r.version)}`;
  if (r.signature && revoked.has(r.signature.keyId)) return `${what} is signed by revoked key ${r.signature.keyId}`;
  if (trusted.size === 0) return undefined;
  if (!r.signature) return `${what} is unsigned (trusted keys: ${[...trusted.keys()].join(', ')})`;
  const key = trusted.get(r.signature.keyId);
  if (!key) return `${what} is signed by untrusted key ${r.signature.keyId} (trusted keys: ${[...trusted.keys()].join(', ')})`;
  if (!verify(null, Buffer.from(releaseSubjectText(r)), key, Buffer.from(r.signature.sig, 'base64'))) return `${what}: bad signature by key ${r.signature.keyId}`;
  return undefined;
}

/**
 * The agent a device should run, in its desired state (set by an agent rollout): the release of its own target,
 * the coordinator's HTTP port to download it from, and how long the new agent has to join and report healthy.
 */
export const AgentPin = z.object({
  release: AgentRelease,
  httpPort: z.number().int().min(1).max(65_535),
  deadlineS: z.number().int().min(5).max(3600),
});
export type AgentPin = z.infer<typeof AgentPin>;

export const UpdateState = z.enum(['downloading', 'installing', 'trial', 'committed', 'rolled_back', 'failed']);
export type UpdateState = z.infer<typeof UpdateState>;

/** In every health report: the last agent update this device worked on, and how many times it restarted for one. */
export const AgentUpdateHealth = z.object({
  revision: z.number().int().nonnegative(),
  version: AgentVersion,
  state: UpdateState,
  reason: z.string().max(1000).optional(),
  restarts: z.number().int().nonnegative(),
});
export type AgentUpdateHealth = z.infer<typeof AgentUpdateHealth>;
