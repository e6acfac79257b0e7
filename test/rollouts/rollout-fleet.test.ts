import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { RolloutStatus } from '../../shared/rollout.js';
import { StreamRollouts } from '../../shared/stream.js';
import { wat } from '../runtime/harness.js';
import { connectDevice, eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';
import { rolloutUntil } from '../helpers/rollout.js';

// Rollouts over real agent processes at one coordinator: tag@1 prefixes each input with "A", tag@2 with "B"
// (healthy), tag@3 traps on every input (a version that crashes on its first input). Inputs flow all along.

const IDS = ['r-1', 'r-2', 'r-3'];
const dir = tempDir();
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
let feeder: MqttClient;
let feeding: NodeJS.Timeout;
const agents: FlotillaProcess[] = [];
const tokens = new Map<string, string>();
// Health every 5 s: the coordinator counts a device silent for 2 intervals + 1 s as offline, which fails its soak; a
// loaded test machine stalled an agent (re)starting its tree for more than the 7 s that 3 s tolerate (the returning
// device of the offline test). Agents report at once on every state change, so the gates do not wait for it.
const agentArgs = ['--health-interval', '5'];
const tagged = (tag: number) => wat('tag', (t) => t.replace('(i32.const 65)) ;; TAG', `(i32.const ${tag})) ;; TAG`));
const tree = (step: string) => ({ id: 'root', intensity: 1, period: 5, children: [{ id: 'tagger', step, input: 'sensors/r/in', output: 'tagged' }] });

const live = (id: string) => cluster.coordinator.directory.live.get(id);
const runs = (id: string, step: string) => live(id)?.health?.children?.some((c) => c.step === step && c.state === 'running');

async function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const p = spawnFlotilla([...args, '--api', cluster.api], { stderr: (l) => err.push(l) });
  p.child.stdout!.on('data', (d) => out.push(String(d)));
  const code = await p.exited;
  return { code, out: out.join(''), err: err.join('\n') };
}

const until = (id: string, done: (s: RolloutStatus) => boolean, what: string) => rolloutUntil(() => api.rollout(id), done, 60_000, what);

beforeAll(async () => {
  cluster = await startCoordinator({ dataDir: join(dir.path, 'coordinator') });
  api = new ApiClient(cluster.api);
  for (const [version, bytes] of [['1', tagged(65)], ['2', tagged(66)], ['3', wat('trap')]] as const) {
    await api.pushStep({ name: 'tag', version, module: Buffer.from(bytes).toString('base64') });
  }
  for (const id of IDS) {
    const { token } = await api.enroll(id, { site: 'lab' });
    tokens.set(id, token);
    agents.push(spawnAgent(cluster.mqttUrl, id, token, join(dir.path, id), agentArgs));
  }
  await Promise.all(agents.map((a) => a.waitFor('joined')));
  await api.applyDesired({ all: true }, tree('tag@1'));
  await eventually(() => IDS.every((id) => runs(id, 'tag@1')), 30_000, 'tag@1 running everywhere');
  feeder = await connectDevice(cluster.mqttUrl, 'feeder', (await api.enroll('feeder')).token);
  let n = 0;
  feeding = setInterval(() => void feeder.publishAsync('sensors/r/in', String(n++), { qos: 1 }).catch(() => {}), 100);
}, 90_000);

afterAll(async () => {
  clearInterval(feeding);
  // Forced: its coordinator restarted under it (the last test), so QoS 1 publishes may wait for an ack forever.
  await feeder?.endAsync(true);
  await Promise.all(agents.map((a) => a.stop()));
  await cluster?.stop();
  dir.cleanup();
});

describe('rollouts over real agents', () => {
  it('a healthy step bump completes through canary and waves, its progress on the SSE stream', async () => {
    const closeStream = new AbortController();
    const sse = await fetch(`${cluster.api}/api/v1/stream`, { signal: closeStream.signal });
    const frames: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of sse.body!) frames.push(decoder.decode(chunk, { stream: true }));
    })().catch(() => {});
    const started = await cli(['rollout', 'start', '--step', 'tag@2', '--select', 'site=lab', '--canary', '1', '--waves', '50%,100%', '--soak', '1s', '--json']);
    expect(started.err).toBe('');
    const { id } = JSON.parse(started.out) as { id: string };
    const done = await until(id, (s) => s.state !== 'running', 'the rollout to end');
    expect(done).toMatchObject({ state: 'succeeded', reason: '3 of 3 devices healthy' });
    expect(done.waves.map((w) => [w.index, w.state, w.devices, w.passed])).toEqual([
      [0, 'passed', 1, 1],
      [1, 'passed', 1, 1],
      [2, 'passed', 1, 1],
    ]);
    for (const id of IDS) expect(runs(id, 'tag@2')).toBe(true);
    expect((await api.desired('r-1')).spec).toMatchObject(tree('tag@2'));
    const status = await cli(['rollout', 'status', id, '--json']);
    expect(RolloutStatus.parse(JSON.parse(status.out)).devices.map((d) => d.state)).toEqual(['healthy', 'healthy', 'healthy']);
    const progress = await eventually(() => {
      const states = frames.join('').split('\n\n').filter((f) => f.startsWith('event: rollout\n')).map((f) => StreamRollouts.parse(JSON.parse(f.slice(f.indexOf('data: ') + 6))).rollouts.find((r) => r.id === id)?.state);
      return states.at(-1) === 'succeeded' && states;
    }, 10_000, 'the rollout on the stream');
    expect(progress[0]).toBe('running');
    closeStream.abort();
    await reading;
    const human = await cli(['rollout', 'status', id]);
    expect(human.out).toContain(`rollout ${id}: succeeded — 3 of 3 devices healthy\n  canary   [####################] 1/1 healthy, 0 failed  (passed)`);
  }, 120_000);

  it('a version that crashes on its first input halts at the canary, is rolled back there, and no other device ever ran it', async () => {
    const before = new Map(await Promise.all(IDS.map(async (id) => [id, (await api.desired(id)).revision] as const)));
    const { id } = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@3' }, canary: 1, waves: '100%', soak: '5s', maxRestarts: 0 });
    // The owner halts first; the share's report of the devices it then left out follows.
    const halted = await until(id, (s) => s.state !== 'running' && !s.devices.some((d) => d.state === 'pending'), 'the rollout to halt');
    expect(halted.state).toBe('halted');
    expect(halted.reason).toMatch(/^canary: 1 of 1 devices failed \(at most 0\) — r-1: /);
    expect(halted.devices).toEqual([
      expect.objectContaining({ id: 'r-1', state: 'rolled_back', wave: 0 }),
      { id: 'r-2', state: 'skipped', reason: 'the rollout ended before its wave' },
      { id: 'r-3', state: 'skipped', reason: 'the rollout ended before its wave' },
    ]);
    // The canary is back on its previous spec; the others never received the new one.
    await eventually(() => runs('r-1', 'tag@2'), 60_000, 'r-1 back on tag@2');
    expect((await api.desired('r-1')).spec).toMatchObject(tree('tag@2'));
    for (const other of ['r-2', 'r-3']) {
      expect((await api.desired(other)).revision).toBe(before.get(other));
      expect(live(other)?.events.some((e) => JSON.stringify(e).includes('tag@3'))).toBe(false);
    }
  }, 120_000);
});

describe('rollouts over real agents: windows and offline devices', () => {
  it('a window that opens a few seconds later holds the first wave until it opens', async () => {
    const opensAt = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const at = new Date(opensAt);
    const before = (await api.desired('r-1')).revision;
    const { id, reason } = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@1' }, waves: '100%', soak: '0', windows: [`${at.getUTCSeconds()} ${at.getUTCMinutes()} * * * * 60s UTC`] });
    expect(reason).toBe(`canary waits for a window, opening at ${at.toISOString()}`);
    expect((await api.desired('r-1')).revision).toBe(before);
    const done = await until(id, (s) => s.state !== 'running', 'the rollout to end');
    expect(done).toMatchObject({ state: 'succeeded', reason: '3 of 3 devices healthy' });
    // Every device got the change only once the window had opened.
    for (const device of IDS) expect((await api.desired(device)).ts).toBeGreaterThanOrEqual(opensAt);
  }, 120_000);

  it('an offline device is pending at its wave and catches up when it returns', async () => {
    // Power lost: its broker's last will marks it offline.
    agents[2].child.kill('SIGKILL');
    await agents[2].exited;
    await eventually(() => live('r-3')?.online === false, 60_000, 'r-3 offline');
    const { id } = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@2' }, waves: '100%', soak: '0', offlineTimeout: '5m' });
    // Waits on the state itself, reason included: under load the report of the two healthy devices and the owner's
    // next reason may land in separate steps, and the agents' own health reports can arrive in any order.
    const reason = 'wave 1 running; waiting up to 5m for 1 offline device(s)';
    const waiting = await until(id, (s) => s.reason === reason && s.devices.some((d) => d.id === 'r-3' && d.state === 'pending') && s.devices.filter((d) => d.state === 'healthy').length === 2, 'r-1 and r-2 healthy, r-3 pending');
    expect(waiting).toMatchObject({ state: 'running', reason });
    expect(waiting.devices.find((d) => d.id === 'r-3')).toMatchObject({ wave: 1, reason: 'offline' });
    try {
      agents[2] = spawnAgent(cluster.mqttUrl, 'r-3', tokens.get('r-3')!, join(dir.path, 'r-3'), agentArgs);
      // A cold agent start on a box running the whole suite can take longer than the default 20 s.
      await agents[2].waitFor('joined', 60_000);
      const done = await until(id, (s) => s.state !== 'running', 'the rollout to end');
      expect(done).toMatchObject({ state: 'succeeded', reason: '3 of 3 devices healthy' });
      await eventually(() => runs('r-3', 'tag@2'), 30_000, 'r-3 running tag@2');
    } finally {
      // A failure here must not leave the rollout holding the devices the next tests start rollouts over.
      if ((await api.rollout(id)).state === 'running') await api.rolloutCommand(id, 'abort');
    }
  }, 150_000);
});

describe('rollout API: refusals name the field, commands check the state, restarts resume', () => {
  const later = '0 0 0 1 1 * 1h'; // a window on January 1st: the canary waits

  it('refuses an unknown step, an empty match, a bad window, an overlap', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${cluster.api}/api/v1/rollouts`, { method: 'POST', body: JSON.stringify(body) });
      return { status: res.status, message: ((await res.json()) as { error: { message: string } }).error.message };
    };
    expect(await post({ selector: 'site=lab', change: { step: 'tag@9' } })).toEqual({ status: 400, message: 'change.step: unknown step tag@9: push it first (flotilla step push)' });
    expect(await post({ selector: 'site=mars', change: { step: 'tag@2' } })).toEqual({ status: 400, message: 'selector: "site=mars" matches no device of cluster test' });
    expect(await post({ selector: 'site=lab', change: { step: 'tag@2' }, windows: ['0 2 * * * 2h Nowhere/City'] })).toMatchObject({ status: 400, message: expect.stringMatching(/^windows\.0: window .*unknown time zone "Nowhere\/City"/) });
    const waiting = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@1' }, windows: [later] });
    expect(waiting.reason).toMatch(/^canary waits for a window, opening at \d{4}-01-01T00:00:00.000Z$/);
    expect(await post({ selector: 'id=r-2', change: { step: 'tag@1' } })).toEqual({ status: 409, message: `selector: device r-2 is already in rollout ${waiting.id} (running); two active rollouts may not share a device` });
    const paused = await cli(['rollout', 'pause', waiting.id]);
    expect(paused.out).toBe(`${waiting.id}: paused (paused by the operator)\n`);
    const again = await cli(['rollout', 'pause', waiting.id]);
    expect(again).toMatchObject({ code: 1, err: expect.stringContaining('HTTP 409: cannot pause a rollout that is paused') });
    expect((await cli(['rollout', 'list'])).out).toContain(`${waiting.id}  paused       paused by the operator`);
    await api.rolloutCommand(waiting.id, 'abort');
  });

  it('a coordinator restarted mid-rollout resumes it from rollouts.json', async () => {
    const { id } = await api.startRollout({ selector: 'site=lab', change: { step: 'tag@1' }, windows: [later] });
    await cluster.coordinator.stop();
    const restarted = await startCoordinator({ dataDir: join(dir.path, 'coordinator'), mqttPort: cluster.coordinator.mqttPort });
    try {
      const status = await new ApiClient(restarted.api).rollout(id);
      expect(status).toMatchObject({ id, state: 'running', reason: expect.stringMatching(/^canary waits for a window/) });
      await new ApiClient(restarted.api).rolloutCommand(id, 'abort');
      expect((await new ApiClient(restarted.api).rollout(id)).state).toBe('aborted');
    } finally {
      await restarted.coordinator.stop();
    }
    // The rest of the suite's afterAll stops `cluster`; give it a running coordinator again.
    cluster = await startCoordinator({ dataDir: join(dir.path, 'coordinator'), mqttPort: cluster.coordinator.mqttPort });
  }, 30_000);
});
