import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';
import { metric } from '../helpers/metrics.js';

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
const dirs = tempDir();

beforeAll(async () => {
  cluster = await startCoordinator();
  api = new ApiClient(cluster.api);
});
afterAll(async () => {
  await cluster.stop();
  dirs.cleanup();
});

describe('joining', () => {
  it('accepts an enrolled device with its token and refuses bad tokens and unknown ids', async () => {
    const { token } = await api.enroll('join-1');
    const ok = await connectDevice(cluster.mqttUrl, 'join-1', token);
    await ok.endAsync();
    await expect(connectDevice(cluster.mqttUrl, 'join-1', 'wrong-token')).rejects.toThrow(/Bad username or password/);
    await expect(connectDevice(cluster.mqttUrl, 'nobody', token)).rejects.toThrow(/Bad username or password/);
    // A device's token does not let it connect under another id, nor with a mismatched client id.
    await api.enroll('join-2');
    await expect(connectDevice(cluster.mqttUrl, 'join-2', token)).rejects.toThrow(/Bad username or password/);
    await expect(connectDevice(cluster.mqttUrl, 'join-2', token, { username: 'join-1' })).rejects.toThrow(/Bad username or password/);
    expect(await metric(cluster.api, 'flotilla_denied_requests_total', { action: 'connect' })).toBeGreaterThanOrEqual(4);
  });

  it('an agent process joins, reports health, and shows in the API', async () => {
    const { token } = await api.enroll('agent-1');
    const agent = spawnAgent(cluster.mqttUrl, 'agent-1', token, join(dirs.path, 'agent-1'));
    try {
      const joined = await agent.waitFor('joined');
      expect(joined).toMatchObject({ id: 'agent-1', arch: process.arch });
      const device = await eventually(async () => (await api.devices()).devices.find((d) => d.id === 'agent-1' && d.arch), 10_000, 'health in the API');
      expect(device).toMatchObject({ online: true, state: 'ok', platform: 'linux', agentVersion: '0.1.0', cluster: 'test' });
      expect(device.rssBytes).toBeGreaterThan(0);
      // Health keeps arriving on the node-cron schedule (1 s in this test).
      const seq = cluster.coordinator.directory.live.get('agent-1')!.health!.seq;
      await eventually(() => cluster.coordinator.directory.live.get('agent-1')!.health!.seq >= seq + 2, 5000, 'two more scheduled reports');
    } finally {
      await agent.stop();
    }
  });
});

describe('ACL confinement between two devices', () => {
  let a: MqttClient;
  let b: MqttClient;
  beforeAll(async () => {
    a = await connectDevice(cluster.mqttUrl, 'acl-a', (await api.enroll('acl-a')).token);
    b = await connectDevice(cluster.mqttUrl, 'acl-b', (await api.enroll('acl-b')).token);
  });
  afterAll(async () => {
    await a.endAsync();
    await b.endAsync();
  });

  it('device A cannot read B\'s commands (SUBACK failure), but reads its own', async () => {
    // [MQTT-3.9.3] SUBACK failure return code 0x80; mqtt.js turns it into a rejected subscribe.
    await expect(a.subscribeAsync(deviceTopic('acl-b', 'cmd'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await expect(a.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    const own = await a.subscribeAsync(deviceTopic('acl-a', 'cmd'), { qos: 1 });
    expect(own[0].qos).toBe(1);
  });

  it('device A cannot publish as B: the broker drops it and nobody receives it', async () => {
    const watcher = await connectDevice(cluster.mqttUrl, 'acl-w', (await api.enroll('acl-w')).token);
    await watcher.subscribeAsync('flotilla/d/+/out/#', { qos: 1 });
    const received: string[] = [];
    watcher.on('message', (topic) => received.push(topic));
    const denied = await metric(cluster.api, 'flotilla_denied_requests_total', { action: 'publish' });
    // aedes closes the connection of a client whose QoS 1 publish is refused; use QoS 0 to keep the session.
    a.publish(deviceTopic('acl-b', 'out') + '/x', 'forged', { qos: 0 });
    await eventually(async () => (await metric(cluster.api, 'flotilla_denied_requests_total', { action: 'publish' })) > denied, 5000, 'the refusal');
    await b.publishAsync(deviceTopic('acl-b', 'out') + '/x', 'genuine', { qos: 1 });
    await eventually(() => received.length > 0, 5000, 'the genuine message');
    expect(received).toEqual(['flotilla/d/acl-b/out/x']);
    await watcher.endAsync();
  });
});

describe('offline detection', () => {
  it('a killed agent is marked offline by its last will', async () => {
    const { token } = await api.enroll('will-1');
    const agent = spawnAgent(cluster.mqttUrl, 'will-1', token, join(dirs.path, 'will-1'), ['--health-interval', '30']);
    await agent.waitFor('joined');
    await eventually(() => cluster.coordinator.directory.live.get('will-1')?.online, 5000, 'online');
    agent.child.kill('SIGKILL');
    await agent.exited;
    // The interval is 30 s: only the last will can explain an offline flip this fast.
    await eventually(() => cluster.coordinator.directory.live.get('will-1')?.online === false, 5000, 'offline via last will');
  });

  it('a silent but connected device is marked offline after missed heartbeats', async () => {
    const { token } = await api.enroll('silent-1');
    const client = await connectDevice(cluster.mqttUrl, 'silent-1', token);
    const { collectHealth } = await import('../../agent/health.js');
    const health = await collectHealth({ seq: 0, intervalS: 1, target: 't', dataDir: dirs.path, invalidMessages: 0, contributions: [] });
    await client.publishAsync(deviceTopic('silent-1', 'health'), JSON.stringify(health), { qos: 1 });
    await eventually(() => cluster.coordinator.directory.live.get('silent-1')?.online, 5000, 'online');
    const started = Date.now();
    await eventually(() => cluster.coordinator.directory.live.get('silent-1')?.online === false, 6000, 'offline after missed heartbeats');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await client.endAsync();
  });
});

describe('malformed messages on every topic the coordinator subscribes to', () => {
  it('are dropped, logged with the reason, counted, and the coordinator keeps serving', async () => {
    const { token } = await api.enroll('bad-1');
    const client = await connectDevice(cluster.mqttUrl, 'bad-1', token);
    const invalid = () => metric(cluster.api, 'flotilla_invalid_messages_total', { source: 'device' });
    const before = await invalid();
    const bad: [string, string][] = [
      ['status', 'not json'],
      ['status', '{"online":"yes","ts":1}'],
      ['health', '{"ts":1}'],
      ['health', '[]'],
      ['events', '{"ts":1,"seq":-1,"type":"x"}'],
      ['ack', '{"id":42}'],
    ];
    for (const [kind, payload] of bad) await client.publishAsync(deviceTopic('bad-1', kind as 'status'), payload, { qos: 1 });
    await eventually(async () => (await invalid()) === before + bad.length, 5000, 'all counted');
    expect(cluster.lines.some((l) => l.includes('dropped invalid message on flotilla/d/bad-1/health: health of bad-1: seq: '))).toBe(true);
    expect(cluster.lines.some((l) => l.includes('status of bad-1: payload is not valid JSON'))).toBe(true);
    const device = (await api.devices()).devices.find((d) => d.id === 'bad-1')!;
    expect(device.invalidMessages).toBe(bad.length);
    expect((await api.cluster()).invalidMessages).toBeGreaterThanOrEqual(bad.length);
    await client.endAsync();
  });
});

describe('commands', () => {
  it('a ping reaches the agent and its ack comes back through the API', async () => {
    const { token } = await api.enroll('cmd-1');
    const agent = spawnAgent(cluster.mqttUrl, 'cmd-1', token, join(dirs.path, 'cmd-1'));
    try {
      await agent.waitFor('joined');
      const res = await fetch(`${cluster.api}/api/v1/devices/cmd-1/commands`, { method: 'POST', body: JSON.stringify({ command: { type: 'ping' } }) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, result: { pong: expect.any(Number) } });
      // An agent ignores (and counts) a command it cannot parse, and keeps working.
      await cluster.coordinator['bus'].client.publishAsync(deviceTopic('cmd-1', 'cmd'), '{"type":"reboot-everything"}', { qos: 1 });
      await eventually(() => cluster.coordinator.directory.live.get('cmd-1')?.health?.invalidMessages === 1, 5000, 'agent counted the bad command');
    } finally {
      await agent.stop();
    }
  });
});
