import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { AgentRelease, RELEASE_HEADER, releaseSignatureProblem, ReleaseSubject, type AgentReleaseList } from '../../shared/agent-release.js';
import { ValidationError } from '../../shared/errors.js';
import { parseBoundedJson } from '../../shared/json-bounds.js';
import { StepSignature, type TrustedKeys } from '../../shared/signing.js';
import { HttpError, type Router } from '../http/router.js';
import { ArtifactRejected, type ArtifactStore } from './artifact-store.js';
import type { ReleaseRegistry } from './release-registry.js';

/** An artifact is a whole agent build: a MIPS runtime tree is ~20 MB compressed; this leaves room. */
export const MAX_ARTIFACT_BYTES = 512 * 1024 * 1024;

const UploadHeader = ReleaseSubject.omit({ target: true, version: true }).extend({ signature: StepSignature.optional() });

/**
 * `PUT /api/v1/agent-releases/:target/:version` (body: the artifact; header: its subject and signature),
 * `GET /api/v1/agent-releases[?version=V]`, `GET /api/v1/agent-releases/:target/:version`, and the artifacts
 * themselves at `GET /agent-artifacts/:sha256`, with `Range` so a device resumes a broken download. Artifacts are
 * outside `/api/` (devices hold no API token): content-addressed, and a device installs only what its trusted keys
 * signed (docs/decisions.md). A release signed by a `revoked` key is refused (403), trusted keys or not, as a step is.
 */
export function addReleaseRoutes(router: Router, releases: ReleaseRegistry, artifacts: ArtifactStore, trusted: TrustedKeys, revoked: () => ReadonlySet<string>): void {
  router.add('GET', '/api/v1/agent-releases', ({ url }): { body: AgentReleaseList } => {
    const version = url.searchParams.get('version');
    return { body: { releases: version === null ? releases.list() : releases.ofVersion(version) } };
  });

  router.add('GET', '/api/v1/agent-releases/:target/:version', ({ params }): { body: AgentRelease } => {
    const r = releases.get(params.target, params.version);
    if (!r) throw new HttpError(404, `no agent release ${params.target}@${params.version}`);
    return { body: r };
  });

  router.add('PUT', '/api/v1/agent-releases/:target/:version', async ({ req, params }): Promise<{ status: number; body: AgentRelease }> => {
    const header = req.headers[RELEASE_HEADER];
    if (typeof header !== 'string') throw new HttpError(400, `missing header ${RELEASE_HEADER} (the release's sha256, size, kind and signature as JSON)`);
    let raw: unknown;
    try {
      raw = parseBoundedJson(header, RELEASE_HEADER);
    } catch (err) {
      throw new HttpError(400, err instanceof ValidationError ? err.message : `${RELEASE_HEADER} is not JSON`);
    }
    const parsed = UploadHeader.safeParse(raw);
    if (!parsed.success) throw new HttpError(400, `${RELEASE_HEADER}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const ids = ReleaseSubject.pick({ target: true, version: true }).safeParse(params);
    if (!ids.success) throw new HttpError(400, `path: ${ids.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const subject = { ...ids.data, ...parsed.data };
    if (subject.size > MAX_ARTIFACT_BYTES) throw new HttpError(413, `artifact of ${subject.size} bytes exceeds the limit of ${MAX_ARTIFACT_BYTES}`);
    const existing = releases.get(subject.target, subject.version);
    // A version names one artifact per target forever, as a step version names one module.
    if (existing && existing.sha256 !== subject.sha256) throw new HttpError(409, `${subject.target}@${subject.version} is already released with sha256 ${existing.sha256}; release a new version`);
    // The signature covers the declared digest: refused before a byte of the body is read.
    const refused = releaseSignatureProblem(trusted, subject, revoked());
    if (refused) throw new HttpError(403, `release refused: ${refused}`);
    try {
      await artifacts.put(req, subject.sha256, subject.size);
    } catch (err) {
      if (err instanceof ArtifactRejected) throw new HttpError(400, `artifact: ${err.message}`);
      throw err;
    }
    const release: AgentRelease = { ...subject, uploadedAt: existing?.uploadedAt ?? Date.now() };
    await releases.add(release);
    return { status: existing ? 200 : 201, body: release };
  });

  router.add('GET', '/agent-artifacts/:sha256', async ({ req, res, params }) => {
    const release = releases.bySha256(params.sha256);
    if (!release || !(await artifacts.ensure(release.sha256, release.size))) throw new HttpError(404, `no agent artifact ${params.sha256.slice(0, 64)}`);
    const range = parseRange(req.headers.range, release.size);
    if (range === 'unsatisfiable') throw new HttpError(416, `range ${req.headers.range} is outside the artifact's ${release.size} bytes`, { 'content-range': `bytes */${release.size}` });
    sendFile(res, artifacts.file(release.sha256), release.size, range);
    return undefined;
  });
}

/** `bytes=N-` or `bytes=N-M` (the forms a resuming client sends); anything else is served whole ([RFC 9110 14.2]). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = header === undefined ? null : /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function sendFile(res: ServerResponse, file: string, size: number, range: { start: number; end: number } | undefined): void {
  const { start, end } = range ?? { start: 0, end: size - 1 };
  res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': end - start + 1,
    'accept-ranges': 'bytes',
    // Content-addressed: the bytes under this name never change.
    'cache-control': 'public, max-age=31536000, immutable',
    ...(range ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
}
