import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { deviceTopic } from '../../shared/topics.js';
import { wat } from '../runtime/harness.js';
import { jsonBody, connectDevice, eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
let watcher: MqttClient;
const dir = tempDir();
const crashy = wat('supervised-crashy');
const sha256 = sha256Hex(crashy);
const broken = wat('init-fails');
const outputs: string[] = [];

const spec = {
  id: 'root',
  strategy: 'one_for_one',
  intensity: 5,
  period: 5,
  children: [
    { id: 'echo', step: 'crashy@1', input: 'sensors/w/in', output: 'echoed' },
    { id: 'relay', step: 'crashy@1', input: { from: 'echo' }, output: '/plant/relayed' },
  ],
};

beforeAll(async () => {
  cluster = await startCoordinator();
  api = new ApiClient(cluster.api);
  for (const [name, module] of [['crashy', crashy], ['broken', broken]] as const) {
    const upload = await fetch(`${cluster.api}/api/v1/steps`, {
      method: 'POST',
      body: JSON.stringify({ name, version: '1', module: Buffer.from(module).toString('base64') }),
    });
    expect(upload.status).toBeLessThan(300);
  }
  watcher = await connectDevice(cluster.mqttUrl, 'watcher', (await api.enroll('watcher')).token);
  await watcher.subscribeAsync(['flotilla/d/+/out/#', 'plant/#'], { qos: 1 });
  watcher.on('message', (topic, payload) => outputs.push(`${topic} ${payload}`));
});
afterAll(async () => {
  await watcher.endAsync();
  await cluster.stop();
  dir.cleanup();
});

function publishDesired(id: string, revision: number, body = spec) {
  const desired = { revision, ts: Date.now(), spec: body, modules: { 'crashy@1': { sha256, size: crashy.length } } };
  return cluster.coordinator['bus'].client.publishAsync(deviceTopic(id, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });
}

const events = (id: string) => cluster.coordinator.directory.live.get(id)?.events ?? [];

describe('an agent runs its desired supervision tree', () => {
  it('fetches the module, starts the tree, moves data through a pipeline, restarts a crashed step', async () => {
    const { token } = await api.enroll('w-1');
    const agentDir = join(dir.path, 'w-1');
    const agent = spawnAgent(cluster.mqttUrl, 'w-1', token, agentDir);
    try {
      await agent.waitFor('joined');
      await publishDesired('w-1', 1);
      await eventually(() => events('w-1').filter((e) => e.type === 'child_started').length >= 2, 10_000, 'both children started');
      const device = await eventually(async () => {
        const d = await jsonBody(fetch(`${cluster.api}/api/v1/devices/w-1`));
        return d.steps?.length === 1 && d.tree.some((c: { path: string; state: string }) => c.path === 'root/relay' && c.state === 'running') && d;
      }, 10_000, 'tree in health');
      expect(device.steps[0]).toEqual({ ref: 'crashy@1', sha256, size: crashy.length });

      // MQTT in → echo → {from: echo} → relay → absolute topic out.
      await watcher.publishAsync('sensors/w/in', 'hello', { qos: 1 });
      await eventually(() => outputs.includes('flotilla/d/w-1/out/echoed hello') && outputs.includes('plant/relayed hello'), 10_000, 'outputs');

      // Let it crash: the trap ends only that step; its supervisor restarts it and data flows again.
      await watcher.publishAsync('sensors/w/in', 'crash', { qos: 1 });
      const terminated = await eventually(() => events('w-1').find((e) => e.type === 'child_terminated'), 10_000, 'child_terminated');
      expect(terminated.data).toMatchObject({ supervisor: 'root', child: 'echo', reason: expect.stringMatching(/^trap:/) });
      await eventually(() => events('w-1').filter((e) => e.type === 'child_started' && e.data.child === 'echo').length === 2, 10_000, 'restart');
      await watcher.publishAsync('sensors/w/in', 'again', { qos: 1 });
      await eventually(() => outputs.includes('plant/relayed again'), 10_000, 'outputs after the restart');
      await eventually(() => cluster.coordinator.directory.live.get('w-1')?.health?.restartsTotal === 1, 10_000, 'restart counted in health');
    } finally {
      await agent.stop();
    }

    // Reboot with no network: the agent starts its last desired tree from local state and its step store.
    const offline = spawnAgent('mqtt://127.0.0.1:1', 'w-1', token, agentDir);
    try {
      await eventually(() => offline.lines.some((l) => l.includes('running desired revision 1 (1 step module(s))')), 10_000, 'tree started offline');
    } finally {
      await offline.stop();
    }

    // Reboot without its coordinator: a bare broker (no auth, nobody to send a desired state or a module). The tree
    // from local state must move data: in → echo → relay → out, through steps started from the local store only.
    const bare = await Aedes.createBroker();
    const server = createServer(bare.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const bareUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const local = await mqtt.connectAsync(bareUrl, { clientId: 'local-watcher', reconnectPeriod: 0 });
    const seen: string[] = [];
    local.on('message', (topic, payload) => seen.push(`${topic} ${payload}`));
    await local.subscribeAsync('plant/#', { qos: 1 });
    const rebooted = spawnAgent(bareUrl, 'w-1', token, agentDir);
    try {
      await eventually(() => rebooted.lines.some((l) => l.includes('running desired revision 1 (1 step module(s))')), 10_000, 'tree started from local state');
      await rebooted.waitFor('joined');
      // The agent subscribes to its inputs once connected; publish until the relayed copy comes out.
      await eventually(async () => {
        await local.publishAsync('sensors/w/in', 'after reboot', { qos: 1 });
        return seen.includes('plant/relayed after reboot');
      }, 20_000, 'data through the tree started from local state');
    } finally {
      await rebooted.stop();
      await local.endAsync();
      await new Promise<void>((resolve) => bare.close(() => resolve()));
      server.close();
    }
  }, 90_000);

  it('rejects a malformed desired spec with a clear reason and keeps running', async () => {
    const { token } = await api.enroll('w-2');
    const agent = spawnAgent(cluster.mqttUrl, 'w-2', token, join(dir.path, 'w-2'));
    try {
      await agent.waitFor('joined');
      await cluster.coordinator['bus'].client.publishAsync(deviceTopic('w-2', 'desired'), JSON.stringify({ revision: 1, ts: 1, spec: { id: 'root', strategy: 'one_for_most', children: [] }, modules: {} }), { qos: 1 });
      await eventually(() => agent.lines.some((l) => l.includes('dropped invalid message on flotilla/d/w-2/desired: desired spec: supervisor spec: strategy')), 10_000, 'rejection logged');
      await eventually(() => cluster.coordinator.directory.live.get('w-2')?.health?.invalidMessages === 1, 10_000, 'counted in health');
      // A spec naming a module the coordinator does not have: fetch fails, reported as an event, nothing changes.
      await publishDesired('w-2', 2, { ...spec, children: [spec.children[0]] });
      const bogus = { revision: 3, ts: 1, spec: { id: 'root', children: [{ id: 'x', step: 'ghost@1' }] }, modules: { 'ghost@1': { sha256: 'f'.repeat(64), size: 10 } } };
      await cluster.coordinator['bus'].client.publishAsync(deviceTopic('w-2', 'desired'), JSON.stringify(bogus), { qos: 1 });
      const failed = await eventually(() => events('w-2').find((e) => e.type === 'desired_failed'), 40_000, 'desired_failed event');
      expect(failed.data).toMatchObject({ revision: 3, reason: expect.stringContaining('not available upstream') });
      expect(cluster.coordinator.directory.live.get('w-2')?.health?.children.find((c) => c.path === 'root/echo')?.state).toBe('running');
    } finally {
      await agent.stop();
    }
  });

  it('applies a later desired tree after its first one failed to start', async () => {
    const { token } = await api.enroll('w-first-fails');
    const agent = spawnAgent(cluster.mqttUrl, 'w-first-fails', token, join(dir.path, 'w-first-fails'));
    try {
      await agent.waitFor('joined');
      const failing = { revision: 1, ts: 1, spec: { id: 'root', children: [{ id: 'bad', step: 'broken@1' }] }, modules: { 'broken@1': { sha256: sha256Hex(broken), size: broken.length } } };
      await cluster.coordinator['bus'].client.publishAsync(deviceTopic('w-first-fails', 'desired'), JSON.stringify(failing), { qos: 1, retain: true });
      const failed = await eventually(() => events('w-first-fails').find((e) => e.type === 'desired_failed'), 10_000, 'desired_failed for revision 1');
      expect(failed.data).toMatchObject({ revision: 1, reason: expect.stringContaining('init returned 7') });
      await publishDesired('w-first-fails', 2, { ...spec, children: [spec.children[0]] });
      await eventually(() => cluster.coordinator.directory.live.get('w-first-fails')?.health?.children.find((c) => c.path === 'root/echo')?.state === 'running', 10_000, 'revision 2 running');
    } finally {
      await agent.stop();
    }
  });

  it('rejects at apply a spec whose output the broker would refuse, with desired_failed, and keeps its link (finding 5)', async () => {
    const { token } = await api.enroll('w-4');
    const agent = spawnAgent(cluster.mqttUrl, 'w-4', token, join(dir.path, 'w-4'));
    try {
      await agent.waitFor('joined');
      await publishDesired('w-4', 1, { ...spec, children: [{ ...spec.children[0], output: '/flotilla/oops' }] });
      const failed = await eventually(() => events('w-4').find((e) => e.type === 'desired_failed'), 10_000, 'desired_failed event');
      expect(failed.data).toMatchObject({ revision: 1, reason: expect.stringContaining('output topic refused: device w-4 may not publish to "flotilla/oops"') });
      // A corrected spec runs, and its outputs flow.
      await publishDesired('w-4', 2, { ...spec, children: [{ ...spec.children[0], input: 'sensors/w4/in', output: 'fixed' }] });
      await eventually(() => events('w-4').some((e) => e.type === 'child_started'), 10_000, 'corrected spec started');
      await watcher.publishAsync('sensors/w4/in', 'ok', { qos: 1 });
      await eventually(() => outputs.includes('flotilla/d/w-4/out/fixed ok'), 10_000, 'output of the corrected spec');
    } finally {
      await agent.stop();
    }
  });
});
