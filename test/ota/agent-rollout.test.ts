import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, trustedKeys } from '../../shared/signing.js';
import type { RolloutStatus } from '../../shared/rollout.js';
import { loadTargets } from '../../firmware-targets/descriptor.js';
import { REPO_ROOT, TARGETS_DIR } from '../../firmware-targets/build.js';
import { spawnFlotilla } from '../../cli/processes.js';
import { eventually, jsonBody, startCoordinator, tempDir } from '../helpers/cluster.js';
import { launch, packRelease, putRelease, seaTree, writeLauncher, type Launched } from './ota-helpers.js';

// `flotilla rollout start --agent VERSION`: the same canary, waves and gates as step rollouts, over devices that
// each run the real agent under the A/B launcher (x64, real processes).
const target = loadTargets(TARGETS_DIR).find((t) => t.name === 'linux-x64')!;
const AGENT = `exec "${process.execPath}" "${join(REPO_ROOT, 'dist/firmware-targets/agent-entry.js')}" "$@"`;
const IDS = ['dev-1', 'dev-2'];

describe('agent rollout', () => {
  const dir = tempDir('flotilla-agent-rollout-');
  const key = generateSigningKey();
  const priv = createPrivateKey(key.privatePem);
  let c: Awaited<ReturnType<typeof startCoordinator>>;
  const devices: Launched[] = [];

  const health = (id: string) => c.coordinator.directory.live.get(id)?.health;
  const rollout = async (id: string): Promise<RolloutStatus> => jsonBody(fetch(`${c.api}/api/v1/rollouts/${id}`));
  const release = async (version: string, script: string) => {
    const packed = packRelease(seaTree(join(dir.path, `r-${version}`), script), join(dir.path, `r-${version}.tar.xz`), { target: 'linux-x64', version }, priv);
    expect((await putRelease(c.api, packed)).status).toBe(201);
  };
  /** A rollout that did not end in time: say where it stood and what each device's launcher and agent last logged. */
  const explain = (id: string) => async (err: unknown): Promise<never> => {
    const status = await rollout(id).catch(() => undefined);
    const logs = devices.map((d, i) => `--- ${IDS[i]} (launcher and agent stderr, last 20 lines)\n${d.stderr.slice(-20).join('\n')}`);
    throw new Error([(err as Error).message, `rollout: ${JSON.stringify(status)}`, ...logs].join('\n'));
  };
  const start = async (version: string): Promise<string> => {
    const cli = spawnFlotilla(['rollout', 'start', '--agent', version, '--select', 'fleet=ota', '--canary', '1', '--waves', '100%', '--soak', '1s', '--api', c.api, '--json'], { stderr: 'ignore' });
    const out: string[] = [];
    cli.child.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
    expect(await cli.exited).toBe(0);
    return (JSON.parse(out.join('')) as RolloutStatus).id;
  };

  beforeAll(async () => {
    const pub = join(dir.path, 'acme.pub');
    writeFileSync(pub, key.publicPem);
    c = await startCoordinator({ trust: trustedKeys([createPublicKey(key.publicPem)]) });
    for (const id of IDS) {
      const token = await c.coordinator.registry.enroll(id);
      await c.coordinator.registry.setLabels(id, { fleet: 'ota' });
      c.coordinator.directory.enrolled(id);
      const home = join(dir.path, id);
      const launcher = writeLauncher(target, home);
      seaTree(join(home, 'slots', 'a'), AGENT);
      writeFileSync(join(home, 'active'), 'a\n');
      devices.push(
        launch(['sh', launcher, '--coordinator', c.mqttUrl, '--id', id, `--token=${token}`, '--data-dir', join(dir.path, `${id}-data`), '--health-interval', '1', '--trust', pub], {
          ...process.env,
          FLOTILLA_HOME: home,
          FLOTILLA_TARGET: 'linux-x64',
        }),
      );
    }
    await eventually(() => IDS.every((id) => health(id)?.agentVersion === '0.1.0'), 30_000, 'both devices on 0.1.0');
  });

  // A case that fails part-way must not leave its rollout holding the devices the next case rolls out to.
  afterEach(async () => {
    const { rollouts } = (await jsonBody(fetch(`${c.api}/api/v1/rollouts`))) as { rollouts: RolloutStatus[] };
    for (const r of rollouts.filter((r) => r.state === 'running' || r.state === 'paused')) await fetch(`${c.api}/api/v1/rollouts/${r.id}/abort`, { method: 'POST' });
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await c?.stop();
    dir.cleanup();
  });

  it('refuses a version nobody released', async () => {
    const res = await fetch(`${c.api}/api/v1/rollouts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ selector: 'fleet=ota', change: { agent: '9.9.9' } }) });
    expect(res.status).toBe(400);
    expect((await jsonBody(res)).error.message).toMatch(/no agent release 9\.9\.9/);
  });

  it('a release that exits at start fails the canary: rolled back on the device, the rollout halts, the other device never gets it', async () => {
    await release('0.2.0-crash', 'exit 3');
    const id = await start('0.2.0-crash');
    // The owner halts first; the shares then report the devices they never reached as skipped.
    const status = await eventually(async () => {
      const s = await rollout(id);
      return s.state !== 'running' && !s.devices.some((d) => d.state === 'pending') && s;
    }, 60_000, 'the rollout to stop').catch(explain(id));
    expect(status.state).toBe('halted');
    const canary = status.devices.find((d) => d.wave === 0)!;
    expect(canary.state).toBe('rolled_back');
    expect(canary.reason).toMatch(/exited with code 3 before it joined/);
    const other = status.devices.find((d) => d.id !== canary.id)!;
    expect(other.state).toBe('skipped');
    expect(health(other.id)?.agentUpdate).toBeUndefined();
    await eventually(() => IDS.every((d) => c.coordinator.directory.live.get(d)?.online && health(d)?.agentVersion === '0.1.0'), 30_000, 'both back online on 0.1.0');
  }, 120_000);

  it('a good release goes canary first, then the rest; every device reports the new agentVersion and the rollout succeeds', async () => {
    await release('0.2.0', AGENT);
    const id = await start('0.2.0');
    const status = await eventually(async () => {
      const s = await rollout(id);
      return s.state !== 'running' && s;
    }, 90_000, 'the rollout to end').catch(explain(id));
    expect(status.state, JSON.stringify(status)).toBe('succeeded');
    expect(status.devices.map((d) => [d.wave, d.state]).sort()).toEqual([[0, 'healthy'], [1, 'healthy']]);
    for (const d of IDS) {
      expect(health(d)).toMatchObject({ agentVersion: '0.2.0', agentUpdate: { state: 'committed', version: '0.2.0' } });
      expect(readFileSync(join(dir.path, d, 'active'), 'utf8').trim()).toBe('b');
    }
  }, 120_000);

  it('refuses (400 naming change.agent) a release whose key was revoked after its push, instead of letting the canary fail', async () => {
    await release('0.3.0', AGENT);
    const revoked = await fetch(`${c.api}/api/v1/keys/revocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keyId: key.keyId }) });
    expect(revoked.status).toBe(200);
    const res = await fetch(`${c.api}/api/v1/rollouts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ selector: 'fleet=ota', change: { agent: '0.3.0' } }) });
    expect(res.status).toBe(400);
    expect((await jsonBody(res)).error.message).toBe(`change.agent: agent release linux-x64@0.3.0 is signed by revoked key ${key.keyId}`);
    expect(IDS.map((d) => health(d)?.agentVersion)).toEqual(['0.2.0', '0.2.0']);
  });
});
