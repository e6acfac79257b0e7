import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import type { FlotillaProcess } from '../../cli/processes.js';
import type { RolloutStatus } from '../../shared/rollout.js';
import { wat } from '../runtime/harness.js';
import { connectDevice, eventually, spawnAgent } from '../helpers/cluster.js';
import { startNode, tempDir, type Node } from '../federation/tree.js';
import { rolloutUntil } from '../helpers/rollout.js';

// Rollouts across clusters over real agent processes: a root without devices of its own and three clusters below it
// (a: a1, a2; b: b1; c: c1). The root plans the canary and waves by cluster; each cluster carries out its share for
// its own devices. tag@1 prefixes each input with "A", tag@2 with "B" (healthy), tag@3 traps on every input (a
// version that crashes on its first input). Inputs flow all along, at every cluster.

const LAYOUT = { a: ['a1', 'a2'], b: ['b1'], c: ['c1'] } as const;
type ClusterName = keyof typeof LAYOUT;
const CLUSTERS = Object.keys(LAYOUT) as ClusterName[];
const QUALIFIED = CLUSTERS.flatMap((c) => LAYOUT[c].map((id) => `${c}/${id}`));
const dir = tempDir();
let root: Node;
let api: ApiClient;
const nodes = new Map<ClusterName, Node>();
const agents: FlotillaProcess[] = [];
const feeders: MqttClient[] = [];
let feeding: NodeJS.Timeout;
// Health every 5 s (as in rollout-fleet.test.ts): a loaded machine may stall an agent starting a tree for seconds.
const agentArgs = ['--health-interval', '5'];
const tagged = (tag: number) => wat('tag', (t) => t.replace('(i32.const 65)) ;; TAG', `(i32.const ${tag})) ;; TAG`));
const tree = (step: string) => ({ id: 'root', intensity: 1, period: 5, children: [{ id: 'tagger', step, input: 'sensors/r/in', output: 'tagged' }] });

/** What the device's own coordinator knows of it (qualified id `a/a1`). */
const live = (qid: string) => {
  const [cluster, id] = qid.split('/') as [ClusterName, string];
  return nodes.get(cluster)!.coordinator.directory.live.get(id);
};
const runs = (qid: string, step: string) => live(qid)?.health?.children?.some((c) => c.step === step && c.state === 'running');

const until = (id: string, done: (s: RolloutStatus) => boolean, what: string) => rolloutUntil(() => api.rollout(id), done, 90_000, what);

beforeAll(async () => {
  root = await startNode('root');
  api = new ApiClient(root.api);
  for (const [version, bytes] of [['1', tagged(65)], ['2', tagged(66)], ['3', wat('trap')]] as const) {
    await api.pushStep({ name: 'tag', version, module: Buffer.from(bytes).toString('base64') });
  }
  for (const name of CLUSTERS) {
    const node = await startNode(name, root, { dataDir: join(dir.path, name) });
    nodes.set(name, node);
    await node.coordinator.federation.bridge!.whenUp();
    const clusterApi = new ApiClient(node.api);
    for (const id of LAYOUT[name]) {
      const { token } = await clusterApi.enroll(id, { site: 'lab' });
      agents.push(spawnAgent(node.mqttUrl, id, token, join(dir.path, id), agentArgs));
    }
    feeders.push(await connectDevice(node.mqttUrl, 'feeder', (await clusterApi.enroll('feeder')).token));
  }
  await Promise.all(agents.map((a) => a.waitFor('joined')));
  await eventually(async () => (await api.devices()).devices.filter((d) => d.labels.site === 'lab').length === QUALIFIED.length, 30_000, 'every device at the root');
  await api.applyDesired({ all: true }, tree('tag@1'));
  await eventually(() => QUALIFIED.every((id) => runs(id, 'tag@1')), 60_000, 'tag@1 running everywhere');
  let n = 0;
  feeding = setInterval(() => {
    for (const f of feeders) void f.publishAsync('sensors/r/in', String(n++), { qos: 1 }).catch(() => {});
  }, 100);
}, 120_000);

afterAll(async () => {
  clearInterval(feeding);
  await Promise.all(feeders.map((f) => f.endAsync(true)));
  await Promise.all(agents.map((a) => a.stop()));
  for (const node of nodes.values()) await node.stop();
  await root?.stop();
  dir.cleanup();
});

describe('rollouts across clusters over real agents', () => {
  it('a healthy step bump completes through canary and waves across 3 clusters, each cluster updating its own devices', async () => {
    const { id } = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@2' }, canary: 1, waves: '50%,100%', soak: '1s' });
    const done = await until(id, (s) => s.state !== 'running', 'the rollout to end');
    expect(done).toMatchObject({ state: 'succeeded', reason: '4 of 4 devices healthy' });
    // Canary and wave 1 stay in the first cluster; the last wave spreads to the other two.
    expect(done.waves.map((w) => [w.index, w.state, w.devices, w.passed])).toEqual([
      [0, 'passed', 1, 1],
      [1, 'passed', 1, 1],
      [2, 'passed', 2, 2],
    ]);
    expect(done.devices.map((d) => [d.id, d.state, d.wave])).toEqual([
      ['a/a1', 'healthy', 0],
      ['a/a2', 'healthy', 1],
      ['b/b1', 'healthy', 2],
      ['c/c1', 'healthy', 2],
    ]);
    for (const qid of QUALIFIED) expect(runs(qid, 'tag@2')).toBe(true);
    expect((await api.desired('b/b1')).spec).toMatchObject(tree('tag@2'));
    // The root drove clusters, not devices: it has no share of its own, each cluster has one.
    expect(root.coordinator.rollouts.shares.activeWith('a1')).toBeUndefined();
    // Each cluster's API lists its share (its own devices, marked as a share) and refuses commands for it.
    const a = new ApiClient(nodes.get('a')!.api);
    // The root's end order reaches the clusters just after the root's own status says succeeded.
    const listed = await eventually(async () => {
      const l = (await a.rollouts()).rollouts;
      return l[0]?.state !== 'running' && l;
    }, 10_000, 'the share at a ended');
    expect(listed.map((r) => [r.id, r.share, r.state])).toEqual([[id, true, 'succeeded']]);
    expect(listed[0].devices.map((d) => [d.id, d.state, d.wave])).toEqual([
      ['a1', 'healthy', 0],
      ['a2', 'healthy', 1],
    ]);
    expect((await new ApiClient(nodes.get('c')!.api).rollout(id)).devices.map((d) => d.id)).toEqual(['c1']);
    await expect(a.rolloutCommand(id, 'abort')).rejects.toThrow(/owned by a coordinator above/);
  }, 150_000);

  it('a version that crashes on its first input halts at the canary, is rolled back there, and no device outside the canary ever ran it', async () => {
    const before = new Map(await Promise.all(QUALIFIED.map(async (qid) => [qid, (await api.desired(qid)).revision] as const)));
    const { id } = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@3' }, canary: 1, waves: '50%,100%', soak: '5s', maxRestarts: 0 });
    const halted = await until(id, (s) => s.state !== 'running' && !s.devices.some((d) => d.state === 'pending'), 'the rollout to halt');
    expect(halted.state).toBe('halted');
    expect(halted.reason).toMatch(/^canary: 1 of 1 devices failed \(at most 0\) — a\/a1: /);
    expect(halted.devices).toEqual([
      expect.objectContaining({ id: 'a/a1', state: 'rolled_back', wave: 0 }),
      { id: 'a/a2', state: 'skipped', reason: 'the rollout ended before its wave' },
      { id: 'b/b1', state: 'skipped', reason: 'the rollout ended before its wave' },
      { id: 'c/c1', state: 'skipped', reason: 'the rollout ended before its wave' },
    ]);
    // The canary is back on its previous spec; the others never received the new one, not even a2 in its cluster.
    await eventually(() => runs('a/a1', 'tag@2'), 60_000, 'a1 back on tag@2');
    expect((await api.desired('a/a1')).spec).toMatchObject(tree('tag@2'));
    for (const other of QUALIFIED.slice(1)) {
      expect((await api.desired(other)).revision).toBe(before.get(other));
      expect(live(other)?.events.some((e) => JSON.stringify(e).includes('tag@3'))).toBe(false);
      expect(live(other)?.health?.steps.some((s) => s.ref === 'tag@3')).toBe(false);
    }
  }, 150_000);
});
