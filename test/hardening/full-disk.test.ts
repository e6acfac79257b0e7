import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { device, startNode } from '../federation/tree.js';
import { metric } from '../helpers/metrics.js';
import { ApiClient } from '../../cli/api-client.js';
import { packRelease, putRelease, seaTree } from '../ota/ota-helpers.js';
import { writeFileAtomic } from '../../shared/durable/index.js';
import { wat } from '../runtime/harness.js';
import { REVOKED_TOPIC, RevocationList } from '../../shared/revocations.js';
import { deviceTopic } from '../../shared/topics.js';

// Issue 11, finding 4: a full or read-only data dir once crashed the coordinator (an uncaught registry write).
const dir = tempDir();
const mountPoint = join(dir.path, 'data');
const brokerDir = join(mountPoint, 'broker');
// Agent artifacts (tens of MB, streamed to a file of their own) have a mount of their own too: what the full or
// read-only data dir refuses below is the release registry's write, agent-releases.json, not the artifact's.
const artifactsDir = join(mountPoint, 'agent-artifacts');
// A child coordinator's data dir, filled while its parent's revocation list arrives; its broker's state on a mount
// of its own like the root's.
const siteDir = join(dir.path, 'site');
const siteBrokerDir = join(siteDir, 'broker');
// Another child's data dir, filled under its uplink spool while its bridge is up.
const spoolSiteDir = join(dir.path, 'spool-site');
const mounts = [
  { path: mountPoint, size: '64k' },
  // The broker's journal stays open for writing, and a mount with a file open for writing cannot become read-only:
  // the broker's state lives on a mount of its own here, so the registry's can be remounted.
  { path: brokerDir, size: '1m' },
  { path: artifactsDir, size: '1m' },
  { path: siteDir, size: '64k' },
  { path: siteBrokerDir, size: '1m' },
  { path: spoolSiteDir, size: '64k' },
  { path: join(spoolSiteDir, 'broker'), size: '1m' },
];
let mountProblem: string | undefined;
try {
  for (const m of mounts) {
    mkdirSync(m.path);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${m.size}`, 'tmpfs', m.path], { stdio: 'pipe' });
  }
} catch (err) {
  mountProblem = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
}
const filler = join(mountPoint, 'filler');
const remount = (mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, mountPoint], { stdio: 'pipe' });
/** Read-only once no write is in flight: a running rollout's write holds a temp file open, and the mount is busy. */
const remountReadOnly = () =>
  eventually(() => {
    try {
      remount('ro');
      return true;
    } catch (err) {
      if (!String((err as { stderr?: Buffer }).stderr).includes('busy')) throw err;
      return false;
    }
  }, 5_000, 'the data dir remounted read-only');

function fillDisk(file = filler, bytes = 256 * 1024): void {
  try {
    writeFileSync(file, Buffer.alloc(bytes));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err; // what fitted stays: the disk is now full
  }
}

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
const post = (path: string, body: unknown) => fetch(`${cluster.api}${path}`, { method: 'POST', body: JSON.stringify(body) });
const onDisk = (file: string) => JSON.parse(readFileSync(join(mountPoint, file), 'utf8'));
const registryOnDisk = () => Object.keys(onDisk('registry.json').devices).sort();
/** Every failed store write, as the store's observer is told of it (the count the tests check). */
const failures: string[] = [];
/** Failed writes of `file` (a base name) as the coordinator's GET /metrics counts them. */
const writeFailures = (file: string, api = cluster.api) => metric(api, 'flotilla_store_write_failures_total', { file });
/** The first rollouts.json write holding a share of this device fails as a full disk would (the others pass). */
let failShareOf: string | undefined;
async function write(file: string, data: string): Promise<void> {
  if (failShareOf && file.endsWith('/rollouts.json') && data.includes(`"id":"${failShareOf}"`)) {
    failShareOf = undefined;
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  }
  await writeFileAtomic(file, data);
}

/**
 * Release `n`, packed once: the retry must send the same artifact, and a tree packed again in another second holds
 * another mtime, another sha256 (a 409 "already released").
 */
const releases = new Map<number, ReturnType<typeof packRelease>>();
function packed(n: number): ReturnType<typeof packRelease> {
  if (!releases.has(n)) releases.set(n, packRelease(seaTree(join(dir.path, 'tree'), 'exit 0'), join(dir.path, `r-${n}.tar.xz`), { target: 'linux-x64', version: `0.${n}.0` }));
  return releases.get(n)!;
}

/**
 * The durable writes beside the registry (issue 11's finding 4 covered the registry and clusters only): each makes
 * change `n`, and `stored(n)` says whether that change is in the file, read back from disk.
 */
const OTHER_WRITES = [
  {
    what: 'revocation list',
    file: 'revocations.json',
    write: (n: number) => post('/api/v1/keys/revocations', { keyId: n.toString(16).padStart(16, '0'), reason: 'full disk' }),
    stored: (n: number) => (onDisk('revocations.json').keys as { keyId: string }[]).some((k) => parseInt(k.keyId, 16) === n),
  },
  {
    what: 'agent release registry',
    file: 'agent-releases.json',
    write: (n: number) => putRelease(cluster.api, packed(n)),
    stored: (n: number) => `linux-x64@0.${n}.0` in onDisk('agent-releases.json').releases,
  },
  {
    // Device r-n is enrolled (while there is room) by `prepare`; the rollout's own offline timeout is far away.
    what: 'rollouts file',
    file: 'rollouts.json',
    prepare: (n: number) => post('/api/v1/devices', { id: `r-${n}` }),
    write: (n: number) => post('/api/v1/rollouts', { selector: `id=r-${n}`, change: { spec: { id: 'root', children: [] } }, waves: '100%' }),
    stored: (n: number) => (onDisk('rollouts.json').owned as { devices: string[] }[]).some((r) => r.devices.includes(`r-${n}`)),
  },
];

beforeAll(async () => {
  if (mountProblem) return;
  cluster = await startCoordinator({ dataDir: mountPoint, store: { flushMs: 20, write, observer: { failure: (err) => failures.push(err.message) } } });
});
afterAll(async () => {
  await cluster?.stop();
  if (!mountProblem) for (const m of [...mounts].reverse()) execFileSync('umount', [m.path]);
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
    expect(await writeFailures('registry.json')).toBe(1);
    expect((await post('/api/v1/clusters', { name: 'eu' })).status).toBe(507);
    expect(await writeFailures('clusters.json')).toBe(1);

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
    await remountReadOnly();
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

describe.skipIf(mountProblem !== undefined)('revocations, agent releases and rollouts on a full or read-only data dir', () => {
  const modes = [
    { mode: 'full', cause: 'ENOSPC: no space left on device', n: 1, refuse: fillDisk, restore: () => rmSync(filler) },
    { mode: 'read-only', cause: 'EROFS: read-only file system', n: 2, refuse: remountReadOnly, restore: () => remount('rw') },
  ];
  const cases = modes.flatMap((m) => OTHER_WRITES.map((w) => ({ ...m, ...w })));
  it.each(cases)('$mode: a $what write answers 507 naming $file, is counted and logged, and the retry once writable is on disk', async (c) => {
    await c.prepare?.(c.n);
    const failed = failures.length;
    const counted = await writeFailures(c.file);
    await c.refuse();
    let refused: Response;
    try {
      refused = await c.write(c.n);
    } finally {
      c.restore();
    }
    const body = (await refused.json()) as { error: { message: string } };
    expect(refused.status, JSON.stringify(body)).toBe(507);
    const message = new RegExp(`^${c.what} not written to .*/${c.file.replace('.', '\\.')}: ${c.cause}`);
    expect(body.error.message).toMatch(message);
    expect(failures.slice(failed).some((f) => message.test(f)), 'the failed write counted').toBe(true);
    expect(await writeFailures(c.file), `flotilla_store_write_failures_total{file="${c.file}"}`).toBe(counted + 1);
    expect(cluster.lines.some((l) => message.test(l.slice(l.indexOf(c.what))) && l.includes('the next write retries it'))).toBe(true);
    expect((await fetch(`${cluster.api}/api/v1/cluster`)).status).toBe(200);

    // The operator's retry of the refused change, once there is room again: acknowledged only once it is on disk.
    const retried = await c.write(c.n);
    expect(retried.status, JSON.stringify(await retried.clone().json())).toBeLessThan(300);
    expect(c.stored(c.n), `${c.file} on disk holds the retried change`).toBe(true);
  });

  it('the disk filling between the owner\'s write and its share\'s: 507, and the share does not keep the device', async () => {
    expect((await post('/api/v1/devices', { id: 'r-3' })).status).toBe(201);
    const rollout = OTHER_WRITES.find((w) => w.file === 'rollouts.json')!;
    failShareOf = 'r-3'; // the owner's own write passes (r-3 is in no rollout yet); its share's, right after, fails
    const refused = await rollout.write(3);
    // The data dir's failure, as any failed write answers it (a 503 "refused" once sent the operator elsewhere).
    expect(refused.status).toBe(507);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/^rollouts file not written to .*rollouts\.json: ENOSPC/);
    // A share kept in memory after its failed write answered the retry "device r-3 is already in rollout ..." (409).
    const retried = await rollout.write(3);
    expect(retried.status, JSON.stringify(await retried.clone().json())).toBe(201);
    expect(rollout.stored(3)).toBe(true);
  });

  it('a rollout over a cluster below only, on a read-only data dir: 507 before that cluster opens a share', async () => {
    // No device of the owner's own is selected, so no share here would fail first: the owner's probe of its own file
    // is what refuses the rollout before the site stores a share (and the owner keeps none in memory to retry).
    const site = await startNode('probe', cluster, { dataDir: join(dir.path, 'probe-site') });
    try {
      await site.coordinator.federation.bridge!.whenUp();
      await new ApiClient(site.api).enroll('p-1', { site: 'probe' });
      const atRoot = async () => ((await (await fetch(`${cluster.api}/api/v1/devices`)).json()) as { devices: { id: string }[] }).devices.some((d) => d.id === 'probe/p-1');
      await eventually(atRoot, 10_000, "the site's device at the root");
      const owned = cluster.coordinator.rollouts.list().map((r) => r.id);
      await remountReadOnly();
      let refused: Response;
      try {
        refused = await post('/api/v1/rollouts', { selector: 'site=probe', change: { spec: { id: 'root', children: [] } }, waves: '100%' });
      } finally {
        remount('rw');
      }
      expect(refused.status).toBe(507);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/^rollouts file not written to .*rollouts\.json: EROFS/);
      expect(site.coordinator.rollouts.shares.activeWith('p-1'), 'a share at the site').toBeUndefined();
      expect(cluster.coordinator.rollouts.list().map((r) => r.id), 'a rollout kept at the owner').toEqual(owned);
    } finally {
      await site.stop();
    }
  });

  it('a read-only data dir: a step module upload answers 507 naming the module, is counted under modules, and the retry is on disk', async () => {
    const upload = () => post('/api/v1/steps', { name: 'echo', version: '1.0.0', module: Buffer.from(wat('echo')).toString('base64') });
    const failed = failures.length;
    const counted = await writeFailures('modules');
    // Read-only, not full: the rollouts of the tests above still write, and each replaced file frees room for a module.
    // The directory exists (on a read-only mount, a recursive mkdir of a missing one says ENOENT): the write says EROFS.
    mkdirSync(join(mountPoint, 'modules'), { recursive: true });
    await remountReadOnly();
    let refused: Response;
    try {
      refused = await upload();
    } finally {
      remount('rw');
    }
    expect(refused.status).toBe(507);
    const message = /^module [0-9a-f]{64} not written to .*\/modules: EROFS: read-only file system/;
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(message);
    expect(failures.slice(failed).some((f) => message.test(f)), 'the store observer told').toBe(true);
    // Under the directory's fixed name, never the module's digest.
    expect(await writeFailures('modules'), 'flotilla_store_write_failures_total{file="modules"}').toBe(counted + 1);
    expect((await upload()).status).toBe(201);
    expect(readdirSync(join(mountPoint, 'modules')).filter((f) => f.endsWith('.wasm'))).toHaveLength(1);
  });

  it('a full artifacts disk: the release push answers 507 naming the artifact, lists no release, and the retry is on disk', async () => {
    const release = OTHER_WRITES.find((w) => w.file === 'agent-releases.json')!;
    const full = join(artifactsDir, 'filler');
    const counted = { artifacts: await writeFailures('agent-artifacts'), releases: await writeFailures('agent-releases.json') };
    fillDisk(full, 2 * 1024 * 1024);
    let refused: Response;
    try {
      refused = await release.write(4);
    } finally {
      rmSync(full);
    }
    expect(refused.status).toBe(507);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/^artifact [0-9a-f]{64} not written to .*agent-artifacts: ENOSPC: no space left on device/);
    expect(cluster.lines.some((l) => l.includes('HTTP PUT /api/v1/agent-releases/linux-x64/0.4.0: artifact'))).toBe(true);
    expect(await writeFailures('agent-artifacts')).toBe(counted.artifacts + 1);
    expect(await writeFailures('agent-releases.json'), 'the release registry was not written at all').toBe(counted.releases);
    // Not acknowledged, so not listed: a device told of this release would fetch an artifact that is not there.
    expect((await fetch(`${cluster.api}/api/v1/agent-releases/linux-x64/0.4.0`)).status).toBe(404);
    expect((await release.write(4)).status).toBe(201);
    expect(release.stored(4)).toBe(true);
  });
});

describe.skipIf(mountProblem !== undefined)('a child coordinator on a full data dir', () => {
  it("the parent's revocation list arriving again once there is room is the child's retry: on its disk and to its agents, with no new key revoked", async () => {
    const root = await startNode('root');
    const site = await startNode('site', root, { dataDir: siteDir });
    const agent = await device(site, 'a-1');
    try {
      await site.coordinator.federation.bridge!.whenUp();
      const lists: RevocationList[] = [];
      agent.on('message', (topic, payload) => topic === REVOKED_TOPIC && payload.length && lists.push(RevocationList.parse(JSON.parse(payload.toString()))));
      await agent.subscribeAsync(REVOKED_TOPIC, { qos: 1 });
      const keyId = 'c0ffee00c0ffee00';
      const revoke = () => fetch(`${root.api}/api/v1/keys/revocations`, { method: 'POST', body: JSON.stringify({ keyId, reason: 'child disk full' }) });
      const siteFiller = join(siteDir, 'filler');
      fillDisk(siteFiller);
      try {
        expect((await revoke()).status).toBe(200);
        await eventually(async () => (await writeFailures('revocations.json', site.api)) === 1, 10_000, "the site's failed revocations.json write");
      } finally {
        rmSync(siteFiller);
      }
      // Kept in memory, neither on the site's disk nor published to its agents.
      expect(site.coordinator.revocations.keyIds().has(keyId)).toBe(true);
      expect(lists.some((l) => l.keys.some((k) => k.keyId === keyId))).toBe(false);

      // The operator repeats the same revocation at the root: the same list comes down, and nothing in it is new.
      expect((await revoke()).status).toBe(200);
      const siteOnDisk = () => RevocationList.parse(JSON.parse(readFileSync(join(siteDir, 'revocations.json'), 'utf8')));
      await eventually(() => {
        try {
          return siteOnDisk().keys.some((k) => k.keyId === keyId);
        } catch {
          return false; // not written yet
        }
      }, 10_000, "the list in the site's revocations.json");
      await eventually(() => lists.some((l) => l.keys.some((k) => k.keyId === keyId)), 10_000, "the list at the site's agent");
      expect(root.coordinator.revocations.list().keys.map((k) => k.keyId)).toEqual([keyId]);
    } finally {
      await agent.endAsync();
      await site.stop();
      await root.stop();
    }
  }, 30_000);

  it('an uplink spool write the full disk refused stalls nothing: the bridge comes back after the root restarts, and the child stops', async () => {
    const rootDir = join(dir.path, 'spool-root');
    let root = await startNode('root', undefined, { dataDir: rootDir });
    const rootPort = root.coordinator.mqttPort;
    const site = await startNode('site', root, { dataDir: spoolSiteDir });
    let siteStopped = false;
    try {
      const bridge = site.coordinator.federation.bridge!;
      await bridge.whenUp();
      // A retained list at the root, which comes down through the bridge on each reconnect.
      const revoked = await fetch(`${root.api}/api/v1/keys/revocations`, { method: 'POST', body: JSON.stringify({ keyId: 'c0ffee00c0ffee02', reason: 'spool' }) });
      expect(revoked.status).toBe(200);
      await eventually(() => site.coordinator.revocations.keyIds().has('c0ffee00c0ffee02'), 10_000, 'the list at the site');
      const agent = await device(site, 's-1');
      const siteFiller = join(spoolSiteDir, 'filler');
      fillDisk(siteFiller);
      try {
        // The device's events cross up: once the spool log's last page is used up, the full disk refuses them.
        let seq = 0;
        await eventually(async () => {
          const event = { ts: Date.now(), seq: seq++, type: 'tick', data: { pad: 'x'.repeat(500) } };
          await agent.publishAsync(deviceTopic('s-1', 'events'), JSON.stringify(event), { qos: 1 });
          return (await writeFailures('uplink', site.api)) > 0;
        }, 15_000, "the site's failed uplink spool write");
      } finally {
        rmSync(siteFiller);
      }
      await agent.endAsync();
      await root.stop();
      await eventually(() => bridge.state === 'down', 5_000, 'the bridge down');
      root = await startNode('root', undefined, { dataDir: rootDir, mqttPort: rootPort });
      await eventually(() => bridge.state === 'up', 15_000, 'the bridge up again');
      const stopping = site.stop().then(() => (siteStopped = true));
      await eventually(() => siteStopped, 10_000, 'the site stopped');
      await stopping;
    } finally {
      if (!siteStopped) await site.stop();
      await root.stop();
    }
  }, 40_000);
});

describe('a child coordinator whose revocation list write failed', () => {
  it("the parent's list arriving again when the bridge reconnects is the retry too, with no revocation repeated", async () => {
    // The site's first revocations.json write holding the key fails as a full disk would (its other writes pass):
    // the site's uplink spool stays writable, so what is tested is the list coming down again on reconnect.
    const keyId = 'c0ffee00c0ffee01';
    let failRevocation = true;
    const siteWrite = async (file: string, data: string) => {
      if (failRevocation && file.endsWith('/revocations.json') && data.includes(keyId)) {
        failRevocation = false;
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      await writeFileAtomic(file, data);
    };
    // The root restarts on its port from its data dir: the site's bridge reconnects and subscribes again, and the
    // root's retained list (published again at its start) comes down once more.
    const rootDir = join(dir.path, 'reconnect-root');
    const siteData = join(dir.path, 'reconnect-site');
    let root = await startNode('root', undefined, { dataDir: rootDir });
    const rootPort = root.coordinator.mqttPort;
    const site = await startNode('site', root, { dataDir: siteData, store: { write: siteWrite } });
    const agent = await device(site, 'a-1');
    try {
      const bridge = site.coordinator.federation.bridge!;
      await bridge.whenUp();
      const lists: RevocationList[] = [];
      agent.on('message', (topic, payload) => topic === REVOKED_TOPIC && payload.length && lists.push(RevocationList.parse(JSON.parse(payload.toString()))));
      await agent.subscribeAsync(REVOKED_TOPIC, { qos: 1 });
      const revoked = await fetch(`${root.api}/api/v1/keys/revocations`, { method: 'POST', body: JSON.stringify({ keyId, reason: 'child disk full' }) });
      expect(revoked.status).toBe(200);
      await eventually(async () => (await writeFailures('revocations.json', site.api)) === 1, 10_000, "the site's failed revocations.json write");
      const siteHolds = () => {
        try {
          return RevocationList.parse(JSON.parse(readFileSync(join(siteData, 'revocations.json'), 'utf8'))).keys.some((k) => k.keyId === keyId);
        } catch {
          return false; // not written yet
        }
      };
      // Kept in memory, neither on the site's disk nor published to its agents; nothing else retries it.
      expect(site.coordinator.revocations.keyIds().has(keyId)).toBe(true);
      expect(siteHolds()).toBe(false);
      expect(lists.some((l) => l.keys.some((k) => k.keyId === keyId))).toBe(false);

      const states: string[] = [];
      bridge.onState((state) => states.push(state));
      await root.stop();
      await eventually(() => bridge.state === 'down', 5_000, 'the bridge down');
      root = await startNode('root', undefined, { dataDir: rootDir, mqttPort: rootPort });
      await eventually(() => bridge.state === 'up', 15_000, 'the bridge up again');
      await eventually(siteHolds, 10_000, "the list in the site's revocations.json");
      await eventually(() => lists.some((l) => l.keys.some((k) => k.keyId === keyId)), 10_000, "the list at the site's agent");
      expect(states).toEqual(['down', 'up']);
      // Only the root's one revocation: nothing was posted again, the reconnect alone brought the list.
      expect(root.coordinator.revocations.list().keys.map((k) => k.keyId)).toEqual([keyId]);
      expect(await writeFailures('revocations.json', site.api)).toBe(1);
    } finally {
      await agent.endAsync();
      await site.stop();
      await root.stop();
    }
  }, 40_000);
});
