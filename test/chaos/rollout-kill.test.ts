import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import type { FlotillaProcess } from '../../cli/processes.js';
import type { RolloutStatus } from '../../shared/rollout.js';
import { wat } from '../runtime/harness.js';
import { connectDevice, eventually, spawnAgent, tempDir } from '../helpers/cluster.js';
import { CoordinatorProcess } from './harness.js';
import { rolloutUntil } from '../helpers/rollout.js';

// SIGKILL of a coordinator in the middle of a rollout across clusters: a root and three cluster coordinators as
// processes of their own, real agents below them (a: a1, a2; b: b1; c: c1). A killed cluster coordinator resumes
// its share from rollouts.json; a killed root resumes the rollout and sends every cluster its order again.

const LAYOUT = { a: ['a1', 'a2'], b: ['b1'], c: ['c1'] } as const;
type ClusterName = keyof typeof LAYOUT;
const CLUSTERS = Object.keys(LAYOUT) as ClusterName[];
const COUNT = 4;
const dir = tempDir();
const api = (p: CoordinatorProcess) => new ApiClient(`http://127.0.0.1:${p.httpPort}`);
let root: CoordinatorProcess;
const clusters = new Map<ClusterName, CoordinatorProcess>();
const agents: FlotillaProcess[] = [];
const feeders: MqttClient[] = [];
let feeding: NodeJS.Timeout;
const tagged = (tag: number) => wat('tag', (t) => t.replace('(i32.const 65)) ;; TAG', `(i32.const ${tag})) ;; TAG`));
const tree = (step: string) => ({ id: 'root', intensity: 1, period: 5, children: [{ id: 'tagger', step, input: 'sensors/r/in', output: 'tagged' }] });

/** Poll the root's API (it may be down for a moment: a refused connection is "not yet"). */
const until = (id: string, done: (s: RolloutStatus) => boolean, what: string) => rolloutUntil(() => api(root).rollout(id).catch(() => undefined), done, 120_000, what);

beforeAll(async () => {
  const childTokens = Object.fromEntries(CLUSTERS.map((c) => [c, `tok-${c}-0123456789abcdef`]));
  const tokensFile = join(dir.path, 'child-tokens.json');
  writeFileSync(tokensFile, JSON.stringify(childTokens));
  root = await CoordinatorProcess.create(join(dir.path, 'root'), {}, ['--cluster', 'root', '--child-tokens-file', tokensFile]);
  await root.start();
  for (const [version, bytes] of [['1', tagged(65)], ['2', tagged(66)], ['3', tagged(67)]] as const) {
    await api(root).pushStep({ name: 'tag', version, module: Buffer.from(bytes).toString('base64') });
  }
  for (const name of CLUSTERS) {
    const node = await CoordinatorProcess.create(join(dir.path, name), {}, ['--cluster', name, '--parent', root.url, '--token', childTokens[name], '--summary-ms', '100']);
    clusters.set(name, node);
    await node.start();
    for (const id of LAYOUT[name]) {
      const { token } = await api(node).enroll(id, { site: 'lab' });
      // As in test/rollouts: a loaded machine may stall an agent starting a tree for seconds.
      agents.push(spawnAgent(node.url, id, token, join(dir.path, id), ['--health-interval', '5']));
    }
    const { token } = await api(node).enroll('feeder');
    // Reconnects by itself: its coordinator is killed below.
    const feeder = await connectDevice(node.url, 'feeder', token, { reconnectPeriod: 200 });
    feeder.on('error', () => {});
    feeders.push(feeder);
  }
  await Promise.all(agents.map((a) => a.waitFor('joined')));
  await eventually(async () => (await api(root).devices()).devices.filter((d) => d.labels.site === 'lab' && d.online).length === COUNT, 60_000, 'every device at the root');
  await api(root).applyDesired({ all: true }, tree('tag@1'));
  await eventually(async () => (await api(root).devices()).devices.filter((d) => d.stepRefs.includes('tag@1') && d.state === 'ok').length === COUNT, 60_000, 'tag@1 running everywhere');
  let n = 0;
  feeding = setInterval(() => {
    for (const f of feeders) if (f.connected) void f.publishAsync('sensors/r/in', String(n++), { qos: 1 }).catch(() => {});
  }, 100);
}, 150_000);

afterAll(async () => {
  clearInterval(feeding);
  await Promise.all(feeders.map((f) => f.endAsync(true)));
  await Promise.all(agents.map((a) => a.stop()));
  for (const node of clusters.values()) await node.stop();
  await root?.stop();
  dir.cleanup();
});

describe('a coordinator killed mid-rollout resumes it', () => {
  it('a cluster coordinator killed (SIGKILL) while its canary updates resumes its share from disk', async () => {
    const { id } = await api(root).startRollout({ selector: 'site=lab', change: { step: 'tag@2' }, canary: 1, waves: '50%,100%', soak: '4s' });
    // Killed as soon as the root hears the canary is updating: the desired state may still be on its way, the agent
    // may be fetching the module (it asks the restarted coordinator again), or soaking. Which one is not observable
    // from outside the processes, so no interleaving is forced; each must end with the share resumed and succeeding.
    await until(id, (s) => s.devices.some((d) => d.id === 'a/a1' && d.state === 'updating'), 'the canary a/a1 updating');
    const a = clusters.get('a')!;
    await a.kill();
    await a.start();
    const done = await until(id, (s) => s.state !== 'running', 'the rollout to end');
    expect(done).toMatchObject({ state: 'succeeded', reason: `${COUNT} of ${COUNT} devices healthy` });
    expect(done.devices.map((d) => [d.id, d.state, d.wave])).toEqual([
      ['a/a1', 'healthy', 0],
      ['a/a2', 'healthy', 1],
      ['b/b1', 'healthy', 2],
      ['c/c1', 'healthy', 2],
    ]);
    expect(a.lines.join('\n')).not.toMatch(/cannot be resumed/);
    expect((await api(root).desired('c/c1')).spec).toMatchObject(tree('tag@2'));
  });

  it('the root killed (SIGKILL) in the middle of a wave resumes the rollout and every cluster its part', async () => {
    const { id } = await api(root).startRollout({ selector: 'site=lab', change: { step: 'tag@3' }, canary: 1, waves: '50%,100%', soak: '4s' });
    await until(id, (s) => s.devices.some((d) => d.wave === 1 && d.state === 'updating' && d.reason?.startsWith('soaking until')), 'wave 1 soaking');
    await root.kill();
    await root.start();
    const done = await until(id, (s) => s.state !== 'running', 'the rollout to end');
    expect(done).toMatchObject({ state: 'succeeded', reason: `${COUNT} of ${COUNT} devices healthy` });
    expect(done.waves.map((w) => [w.index, w.state, w.passed])).toEqual([
      [0, 'passed', 1],
      [1, 'passed', 1],
      [2, 'passed', 2],
    ]);
    for (const qid of ['a/a1', 'b/b1']) expect((await api(root).desired(qid)).spec).toMatchObject(tree('tag@3'));
  });
});
