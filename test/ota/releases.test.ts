import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, trustedKeys } from '../../shared/signing.js';
import { releaseSignatureProblem, signRelease } from '../../shared/agent-release.js';
import { parseRange } from '../../coordinator/releases/routes.js';
import { spawnFlotilla } from '../../cli/processes.js';
import { jsonBody, startCoordinator, tempDir } from '../helpers/cluster.js';
import { packRelease, putRelease, seaTree } from './ota-helpers.js';

const key = generateSigningKey();
const other = generateSigningKey();
const priv = createPrivateKey(key.privatePem);
const trust = trustedKeys([createPublicKey(key.publicPem)]);

describe('agent releases API', () => {
  const dir = tempDir('flotilla-releases-');
  let root: Awaited<ReturnType<typeof startCoordinator>>;
  let child: Awaited<ReturnType<typeof startCoordinator>>;
  let release: ReturnType<typeof packRelease>;

  beforeAll(async () => {
    root = await startCoordinator({ trust });
    child = await startCoordinator({ cluster: 'edge', parentHttp: { http: root.api } });
    release = packRelease(seaTree(join(dir.path, 'b'), 'exit 0'), join(dir.path, 'b.tar.xz'), { target: 'linux-x64', version: '0.2.0' }, priv);
  });

  afterAll(async () => {
    await child?.stop();
    await root?.stop();
    dir.cleanup();
  });

  it('refuses an unsigned release, one by an untrusted key and a tampered one, before storing anything (403)', async () => {
    const unsigned = await putRelease(root.api, { ...release, signature: undefined });
    expect(unsigned.status).toBe(403);
    expect((await jsonBody(unsigned)).error.message).toMatch(/linux-x64@0\.2\.0 is unsigned/);
    const untrusted = await putRelease(root.api, { ...release, signature: signRelease(release.subject, createPrivateKey(other.privatePem)) });
    expect((await jsonBody(untrusted)).error.message).toMatch(new RegExp(`untrusted key ${other.keyId}`));
    // The signature of another version does not cover this one.
    const replayed = await putRelease(root.api, { ...release, signature: signRelease({ ...release.subject, version: '0.1.9' }, priv) });
    expect(replayed.status).toBe(403);
    expect((await jsonBody(replayed)).error.message).toMatch(/bad signature/);
    expect((await jsonBody(fetch(`${root.api}/api/v1/agent-releases`))).releases).toEqual([]);
  });

  it('refuses a release signed by a revoked key (403 naming it), trusted keys or not, before storing anything', async () => {
    // `child` trusts no key: only the revocation refuses it.
    const revoked = await fetch(`${child.api}/api/v1/keys/revocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keyId: other.keyId }) });
    expect(revoked.status).toBe(200);
    const res = await putRelease(child.api, { ...release, subject: { ...release.subject, version: '0.2.0-revoked' }, signature: signRelease({ ...release.subject, version: '0.2.0-revoked' }, createPrivateKey(other.privatePem)) });
    expect(res.status).toBe(403);
    expect((await jsonBody(res)).error.message).toBe(`release refused: agent release linux-x64@0.2.0-revoked is signed by revoked key ${other.keyId}`);
    expect(child.coordinator.releases.get('linux-x64', '0.2.0-revoked')).toBeUndefined();
  });

  it('refuses bytes that are not the declared artifact (400)', async () => {
    const bytes = readFileSync(release.file);
    bytes[bytes.length - 1] ^= 0xff;
    const res = await putRelease(root.api, release, bytes);
    expect(res.status).toBe(400);
    expect((await jsonBody(res)).error.message).toMatch(/the bytes hash to/);
  });

  it('stores a signed release per target and version, lists it, and keeps a version to one artifact (409)', async () => {
    const res = await putRelease(root.api, release);
    expect(res.status).toBe(201);
    const { releases } = await jsonBody(fetch(`${root.api}/api/v1/agent-releases`));
    expect(releases).toEqual([expect.objectContaining({ target: 'linux-x64', version: '0.2.0', sha256: release.subject.sha256, kind: 'full', signature: release.signature })]);
    expect((await putRelease(root.api, release)).status).toBe(200);
    const different = packRelease(seaTree(join(dir.path, 'b2'), 'exit 1'), join(dir.path, 'b2.tar.xz'), { target: 'linux-x64', version: '0.2.0' }, priv);
    expect((await putRelease(root.api, different)).status).toBe(409);
  });

  it('serves the artifact whole and by range (206), so a device resumes a broken download', async () => {
    const bytes = readFileSync(release.file);
    const url = `${root.api}/agent-artifacts/${release.subject.sha256}`;
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    const tail = await fetch(url, { headers: { range: 'bytes=100-' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes 100-${bytes.length - 1}/${bytes.length}`);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(100))).toBe(true);
    expect((await fetch(url, { headers: { range: `bytes=${bytes.length}-` } })).status).toBe(416);
    expect((await fetch(`${root.api}/agent-artifacts/${'0'.repeat(64)}`)).status).toBe(404);
    expect(parseRange('bytes=5-9', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-5', 10)).toBeUndefined();
  });

  it('a cluster coordinator takes a release and its artifact from its parent once, then serves them itself', async () => {
    const { releases } = await jsonBody(fetch(`${child.api}/api/v1/agent-releases`));
    expect(releases).toEqual([]);
    expect(await child.coordinator.releases.resolveVersion('0.2.0')).toEqual([expect.objectContaining({ sha256: release.subject.sha256 })]);
    const url = `${child.api}/agent-artifacts/${release.subject.sha256}`;
    const bodies = await Promise.all([1, 2, 3].map(async () => Buffer.from(await (await fetch(url)).arrayBuffer())));
    for (const b of bodies) expect(b.equals(readFileSync(release.file))).toBe(true);
    expect((await fetch(url, { headers: { range: 'bytes=10-' } })).status).toBe(206);
    expect(child.coordinator.artifacts.upstream).toEqual({ artifacts: 1, bytes: release.subject.size });
  });

  it('the device-side check refuses what its trusted keys did not sign', () => {
    const signed = { ...release.subject, signature: release.signature };
    expect(releaseSignatureProblem(trust, signed)).toBeUndefined();
    expect(releaseSignatureProblem(trust, { ...signed, target: 'linux-arm64' })).toMatch(/bad signature/);
    expect(releaseSignatureProblem(new Map(), { ...release.subject })).toBeUndefined();
  });

  it('flotilla agent-release push uploads a built target, signed', async () => {
    const built = join(dir.path, 'dist-targets', 'linux-x64');
    mkdirSync(built, { recursive: true });
    const packed = packRelease(seaTree(join(dir.path, 'c'), 'exit 0'), join(built, 'flotilla-agent-linux-x64.tar.xz'), { target: 'linux-x64', version: '0.3.0' });
    writeFileSync(join(built, 'release.json'), JSON.stringify({ target: 'linux-x64', full: { file: 'flotilla-agent-linux-x64.tar.xz', installBytes: 1234 } }));
    const keyFile = join(dir.path, 'acme.key');
    writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
    const push = spawnFlotilla(['agent-release', 'push', built, '--version', '0.3.0', '--target', 'linux-x64', '--sign', keyFile, '--api', root.api], { stderr: 'ignore' });
    expect(await push.exited).toBe(0);
    const r = await jsonBody(fetch(`${root.api}/api/v1/agent-releases/linux-x64/0.3.0`));
    expect(r).toMatchObject({ sha256: packed.subject.sha256, installBytes: 1234, signature: { keyId: key.keyId } });
    const unsigned = spawnFlotilla(['agent-release', 'push', built, '--version', '0.3.1', '--api', root.api], { stderr: 'ignore' });
    expect(await unsigned.exited).toBe(1);
  });
});
