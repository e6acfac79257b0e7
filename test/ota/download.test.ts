import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download } from '../../agent/update/download.js';
import { Updater } from '../../agent/update/updater.js';
import { decideUpdate } from '../../agent/update/decide.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import type { AgentPin } from '../../shared/agent-release.js';
import { listen } from '../../coordinator/listen.js';
import { eventually, memoryLogger, startCoordinator, tempDir } from '../helpers/cluster.js';
import { packRelease, putRelease, seaTree } from './ota-helpers.js';

describe('artifact download', () => {
  const dir = tempDir('flotilla-download-');
  let c: Awaited<ReturnType<typeof startCoordinator>>;
  let proxy: Server;
  let proxyUrl: string;
  let artifact: Buffer;
  let sha256: string;
  const ranges: (string | undefined)[] = [];
  const file = join(dir.path, 'got.artifact');
  const part = `${file}.part`;

  beforeAll(async () => {
    c = await startCoordinator();
    // Incompressible bytes, so the artifact is large enough to break half-way.
    const tree = seaTree(join(dir.path, 'r'), 'exit 0');
    writeFileSync(join(tree, 'kit', 'payload'), randomBytes(512 * 1024));
    const packed = packRelease(tree, join(dir.path, 'r.tar.xz'), { target: 'linux-x64', version: '1.0.0' });
    expect((await putRelease(c.api, packed)).status).toBe(201);
    artifact = readFileSync(packed.file);
    sha256 = packed.subject.sha256;
    // A link that breaks the first transfer after 100 kB (a real socket reset), then passes everything through.
    proxy = createServer(async (req, res) => {
      ranges.push(req.headers.range);
      const upstream = await fetch(`${c.api}${req.url}`, { headers: req.headers.range ? { range: req.headers.range } : {} });
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
      const body = Buffer.from(await upstream.arrayBuffer());
      if (ranges.length > 1) return void res.end(body);
      res.write(body.subarray(0, 100_000));
      // The link breaks once the device has some of it on disk.
      await eventually(() => existsSync(part) && statSync(part).size > 0, 10_000, 'the first bytes on disk');
      res.destroy();
    });
    proxyUrl = `http://127.0.0.1:${await listen(proxy, 0, '127.0.0.1')}`;
  });

  afterAll(async () => {
    proxy?.closeAllConnections();
    proxy?.close();
    await c?.stop();
    dir.cleanup();
  });

  it('resumes a broken download with Range from what arrived, and verifies the whole file', async () => {
    const transferred = await download({ url: `${proxyUrl}/agent-artifacts/${sha256}`, file, sha256, size: artifact.length, attempts: 3, backoffMs: () => 0 });
    expect(readFileSync(file).equals(artifact)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    const resumedAt = Number(/bytes=(\d+)-/.exec(ranges[1]!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    // Only the missing part crossed the link again.
    expect(transferred).toBe(artifact.length);
  });

  it('refuses bytes that do not hash to the release, and removes them', async () => {
    const file = join(dir.path, 'bad.artifact');
    await expect(download({ url: `${c.api}/agent-artifacts/${sha256}`, file, sha256: sha256Hex(Buffer.from('other')), size: artifact.length, attempts: 1, backoffMs: () => 0 })).rejects.toThrow(/hashes to/);
  });

  it('checks free disk space before downloading: a release that does not fit is refused and reported', async () => {
    const home = join(dir.path, 'home');
    mkdirSync(join(home, 'slots', 'a'), { recursive: true });
    writeFileSync(join(home, 'active'), 'a\n');
    const events: string[] = [];
    const updater = await Updater.open({
      launch: { home, slot: 'a', trial: false },
      dataDir: dir.path,
      target: 'linux-x64',
      trusted: new Map(),
      revoked: () => new Set(),
      artifactUrl: () => `${c.api}/agent-artifacts/${sha256}`,
      emitEvent: (type) => events.push(type),
      reportHealth: () => undefined,
      restart: () => expect.fail('must not restart'),
      log: memoryLogger(),
      freeBytes: async () => 1_000_000,
    });
    const release = c.coordinator.releases.get('linux-x64', '1.0.0')!;
    await updater.desired(7, { release, httpPort: c.coordinator.httpPort, deadlineS: 30 });
    expect(updater.health().agentUpdate).toMatchObject({ revision: 7, version: '1.0.0', state: 'failed' });
    expect(updater.health().agentUpdate!.reason).toMatch(/not enough disk space for agent 1\.0\.0: \d+ bytes needed, 1000000 free/);
    expect(events).toEqual(['agent_update_failed']);
  });

  it('decides: same version nothing; another target, no launcher or a failed trial refused or skipped', () => {
    const release = c.coordinator.releases.get('linux-x64', '1.0.0')!;
    const pin: AgentPin = { release, httpPort: 1, deadlineS: 30 };
    const running = { version: '0.9.0', target: 'linux-x64', launched: true };
    expect(decideUpdate(pin, 1, running, undefined, new Map())).toEqual({ action: 'install' });
    expect(decideUpdate(pin, 1, { ...running, version: '1.0.0' }, undefined, new Map())).toEqual({ action: 'none' });
    expect(decideUpdate(pin, 1, { ...running, target: 'linux-arm64' }, undefined, new Map())).toMatchObject({ action: 'refuse', reason: expect.stringMatching(/is for linux-x64, this device runs linux-arm64/) });
    expect(decideUpdate(pin, 1, { ...running, launched: false }, undefined, new Map())).toMatchObject({ action: 'refuse', reason: expect.stringMatching(/not started by flotilla-launcher/) });
    const rolledBack = { revision: 1, version: '1.0.0', state: 'rolled_back' as const, restarts: 1 };
    expect(decideUpdate(pin, 2, running, rolledBack, new Map())).toEqual({ action: 'none' });
    expect(decideUpdate(pin, 2, running, { ...rolledBack, state: 'failed' }, new Map())).toEqual({ action: 'install' });
    expect(decideUpdate(pin, 2, running, { ...rolledBack, state: 'downloading' }, new Map())).toEqual({ action: 'install' });
    // Refused by the agent's own revocation list, trusted keys or not.
    const signature = { keyId: '0123456789abcdef', sig: `${'A'.repeat(86)}==` };
    expect(decideUpdate({ ...pin, release: { ...release, signature } }, 3, running, undefined, new Map(), new Set([signature.keyId]))).toEqual({
      action: 'refuse',
      reason: 'release refused: agent release linux-x64@1.0.0 is signed by revoked key 0123456789abcdef',
    });
  });
});
