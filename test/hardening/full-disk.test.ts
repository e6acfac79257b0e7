import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, eventually, startCoordinator, tempDir } from '../helpers/cluster.js';

// Issue 11, finding 4: a full or read-only data dir once crashed the coordinator (an uncaught registry write).
const dir = tempDir();
const mountPoint = join(dir.path, 'data');
const brokerDir = join(mountPoint, 'broker');
mkdirSync(mountPoint);
let mountProblem: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'pipe' });
  // The broker's journal stays open for writing, and a mount with a file open for writing cannot become read-only:
  // the broker's state lives on a mount of its own here, so the registry's can be remounted.
  mkdirSync(brokerDir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', brokerDir], { stdio: 'pipe' });
} catch (err) {
  mountProblem = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
}
const filler = join(mountPoint, 'filler');
const remount = (mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, mountPoint]);

function fillDisk(): void {
  try {
    writeFileSync(filler, Buffer.alloc(256 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err; // what fitted stays: the disk is now full
  }
}

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
const post = (path: string, body: unknown) => fetch(`${cluster.api}${path}`, { method: 'POST', body: JSON.stringify(body) });
const registryOnDisk = () => Object.keys(JSON.parse(readFileSync(join(mountPoint, 'registry.json'), 'utf8')).devices).sort();

beforeAll(async () => {
  if (mountProblem) return;
  cluster = await startCoordinator({ dataDir: mountPoint, store: { flushMs: 20 } });
});
afterAll(async () => {
  await cluster?.stop();
  if (!mountProblem) for (const m of [brokerDir, mountPoint]) execFileSync('umount', [m]);
  rmSync(dir.path, { recursive: true, force: true });
});

describe.skipIf(mountProblem !== undefined)(`a full or read-only data dir (tmpfs of 64 KiB${mountProblem ? `; skipped: mount failed: ${mountProblem}` : ''})`, () => {
  it('a full disk: writes answer 507 naming the cause, a device coming online crashes nothing, and the next write after freeing space retries', async () => {
    expect((await post('/api/v1/devices', { id: 'd-1' })).status).toBe(201);
    const { token } = (await (await post('/api/v1/devices', { id: 'd-1' })).json()) as { token: string };
    fillDisk();

    const refused = await post('/api/v1/devices', { id: 'd-2' });
    expect(refused.status).toBe(507);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/^device registry not written to .*registry\.json: ENOSPC: no space left on device/);
    expect((await post('/api/v1/clusters', { name: 'eu' })).status).toBe(507);

    // A device coming online is a deferred last-seen write: it fails, is counted, and the coordinator lives on.
    const failures = cluster.coordinator.registry.stats.failures;
    const device = await connectDevice(cluster.mqttUrl, 'd-1', token);
    await device.publishAsync('flotilla/d/d-1/status', JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
    await eventually(() => cluster.coordinator.registry.stats.failures > failures, 10_000, 'the failed last-seen write');
    expect((await fetch(`${cluster.api}/api/v1/cluster`)).status).toBe(200);
    expect(cluster.lines.some((l) => l.includes('no space left on device') && l.includes('the next write retries it'))).toBe(true);
    await device.endAsync();

    rmSync(filler);
    expect((await post('/api/v1/devices', { id: 'd-3' })).status).toBe(201);
    // d-2's enrolment was refused (507) but kept in memory; the retry wrote it together with d-3.
    expect(registryOnDisk()).toEqual(['d-1', 'd-2', 'd-3']);
  });

  it('a read-only data dir: 507 naming EROFS, and writes resume once it is writable again', async () => {
    remount('ro');
    try {
      const refused = await post('/api/v1/devices', { id: 'd-4' });
      expect(refused.status).toBe(507);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/EROFS: read-only file system/);
    } finally {
      remount('rw');
    }
    expect((await post('/api/v1/devices', { id: 'd-5' })).status).toBe(201);
    expect(registryOnDisk()).toEqual(['d-1', 'd-2', 'd-3', 'd-4', 'd-5']);
  });
});
