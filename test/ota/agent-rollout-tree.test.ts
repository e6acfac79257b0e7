import { createPrivateKey, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { generateSigningKey, trustedKeys } from '../../shared/signing.js';
import { loadTargets } from '../../firmware-targets/descriptor.js';
import { REPO_ROOT, TARGETS_DIR } from '../../firmware-targets/build.js';
import { eventually } from '../helpers/cluster.js';
import { startNode, tempDir, type Node } from '../federation/tree.js';
import { launch, packRelease, putRelease, seaTree, writeLauncher, type Launched } from './ota-helpers.js';

// An agent rollout started at the root over a device of a cluster below: the cluster's share takes the release
// from its parent (--parent-http), pins it for its device, and the device downloads it from its own coordinator.
const target = loadTargets(TARGETS_DIR).find((t) => t.name === 'linux-x64')!;
const AGENT = `exec "${process.execPath}" "${join(REPO_ROOT, 'dist/firmware-targets/agent-entry.js')}" "$@"`;

describe('agent rollout across clusters', () => {
  const dir = tempDir('flotilla-agent-rollout-tree-');
  const key = generateSigningKey();
  let root: Node;
  let site: Node;
  let device: Launched | undefined;

  const health = () => site.coordinator.directory.live.get('dev-1')?.health;

  beforeAll(async () => {
    const pub = join(dir.path, 'acme.pub');
    writeFileSync(pub, key.publicPem);
    const trust = trustedKeys([createPublicKey(key.publicPem)]);
    root = await startNode('root', undefined, { trust });
    site = await startNode('site', root, { trust, parentHttp: { http: root.api } });
    await site.coordinator.federation.bridge!.whenUp();
    const { token } = await new ApiClient(site.api).enroll('dev-1', { fleet: 'ota' });
    const home = join(dir.path, 'dev-1');
    const launcher = writeLauncher(target, home);
    seaTree(join(home, 'slots', 'a'), AGENT);
    writeFileSync(join(home, 'active'), 'a\n');
    device = launch(['sh', launcher, '--coordinator', site.mqttUrl, '--id', 'dev-1', `--token=${token}`, '--data-dir', join(dir.path, 'dev-1-data'), '--health-interval', '1', '--trust', pub], {
      ...process.env,
      FLOTILLA_HOME: home,
      FLOTILLA_TARGET: 'linux-x64',
    });
    await eventually(() => health()?.agentVersion === '0.1.0', 30_000, 'the device on 0.1.0');
    await eventually(async () => (await new ApiClient(root.api).devices()).devices.some((d) => d.id === 'site/dev-1' && d.target === 'linux-x64'), 30_000, 'the device and its target known at the root');
  }, 90_000);

  afterAll(async () => {
    await device?.stop();
    await site?.stop();
    await root?.stop();
    dir.cleanup();
  });

  it('the root rolls a release out to a device below; the site fetches the release once from the root', async () => {
    const packed = packRelease(seaTree(join(dir.path, 'r-0.2.0'), AGENT), join(dir.path, 'r-0.2.0.tar.xz'), { target: 'linux-x64', version: '0.2.0' }, createPrivateKey(key.privatePem));
    expect((await putRelease(root.api, packed)).status).toBe(201);
    // Only the root has it so far.
    const releasesAt = async (node: Node) => ((await (await fetch(`${node.api}/api/v1/agent-releases`)).json()) as { releases: { version: string }[] }).releases;
    expect(await releasesAt(site)).toEqual([]);
    const api = new ApiClient(root.api);
    const { id } = await api.startRollout({ selector: 'fleet=ota', change: { agent: '0.2.0' }, canary: 1, waves: '100%', soak: '1s' });
    const done = await eventually(async () => {
      const s = await api.rollout(id);
      return s.state !== 'running' && s;
    }, 90_000, 'the rollout to end');
    expect(done).toMatchObject({ state: 'succeeded' });
    expect(done.devices).toEqual([expect.objectContaining({ id: 'site/dev-1', state: 'healthy' })]);
    expect(health()?.agentVersion).toBe('0.2.0');
    expect((await releasesAt(site)).map((r) => r.version)).toEqual(['0.2.0']);
  }, 120_000);
});
