import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { LogCursor } from '../../cli/logs.js';
import { FLOTILLA_MAIN } from '../../cli/processes.js';
import { LOG_BURST, LOG_RATE_PER_S } from '../../agent/log-forwarder.js';
import { DeviceLogs, LogLine } from '../../shared/logs.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { deviceTopic } from '../../shared/topics.js';
import { wat } from '../runtime/harness.js';
import { eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';

const run = promisify(execFile);
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
const dir = tempDir();
const modules = { 'broken@1': wat('init-fails'), 'flood@1': wat('log-flood') };
const refs = Object.fromEntries(Object.entries(modules).map(([ref, bytes]) => [ref, { sha256: sha256Hex(bytes), size: bytes.length }]));

beforeAll(async () => {
  cluster = await startCoordinator();
  api = new ApiClient(cluster.api);
  for (const [ref, bytes] of Object.entries(modules)) {
    const [name, version] = ref.split('@');
    const upload = await fetch(`${cluster.api}/api/v1/steps`, { method: 'POST', body: JSON.stringify({ name, version, module: Buffer.from(bytes).toString('base64') }) });
    expect(upload.status).toBeLessThan(300);
  }
});
/** Runs the built CLI to completion; its stdout. */
async function flotilla(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [FLOTILLA_MAIN, ...args]);
  return stdout;
}

afterAll(async () => {
  await cluster.stop();
  dir.cleanup();
});

const bus = () => cluster.coordinator['bus'].client;
const events = (id: string) => cluster.coordinator.directory.live.get(id)?.events ?? [];
function publishDesired(id: string, children: unknown[]) {
  const desired = { revision: 1, ts: Date.now(), spec: { id: 'root', children }, modules: refs };
  return bus().publishAsync(deviceTopic(id, 'desired'), JSON.stringify(desired), { qos: 1, retain: true });
}
async function logsOf(id: string, query = ''): Promise<DeviceLogs> {
  const res = await fetch(`${cluster.api}/api/v1/devices/${id}/logs${query}`);
  expect(res.status).toBe(200);
  return DeviceLogs.parse(await res.json());
}

describe('fleet logs', () => {
  it('a step that logs and fails at init: its line is in the agent log, the API and the start_failed reason', async () => {
    const { token } = await api.enroll('l-1');
    const agent = spawnAgent(cluster.mqttUrl, 'l-1', token, join(dir.path, 'l-1'));
    try {
      await agent.waitFor('joined');
      await publishDesired('l-1', [{ id: 'bad', step: 'broken@1' }]);
      const terminated = await eventually(() => events('l-1').find((e) => e.type === 'child_terminated'), 10_000, 'child_terminated');
      expect(terminated.data).toMatchObject({ child: 'bad', reason: 'start_failed:init returned 7: missing field' });
      await eventually(() => agent.lines.find((l) => / error +\[agent l-1\/workload\/root\/bad\] missing field$/.test(l)), 10_000, 'the line in the agent log');
      const logs = await eventually(async () => {
        const body = await logsOf('l-1', '?step=root/bad');
        return body.lines.length > 0 && body;
      }, 10_000, 'the line at the coordinator');
      expect(logs.lines[0]).toMatchObject({ level: 'error', step: 'root/bad', message: 'missing field' });
      // The agent's own error about the failed apply is there too, without a step.
      await eventually(async () => (await logsOf('l-1', '?level=error')).lines.some((l) => l.step === undefined && l.message.includes('desired revision 1 not applied')), 10_000, 'the agent line');

      // The CLI: `flotilla logs` prints both; `flotilla devices` says why the device is degraded.
      const printed = await flotilla('logs', 'l-1', '--api', cluster.api);
      expect(printed).toMatch(/^\S+Z error root\/bad  missing field$/m);
      expect(printed).toMatch(/^\S+Z error agent  desired revision 1 not applied: /m);
      expect(await flotilla('logs', 'l-1', '--api', cluster.api, '--step', 'root/bad', '--json')).toMatch(/^\{"ts":\d+,"level":"error","step":"root\/bad","message":"missing field"\}\n$/);
      expect(await flotilla('logs', 'l-1', '--api', cluster.api, '--since', '0s')).toBe('');
      await eventually(() => cluster.coordinator.directory.live.get('l-1')?.health?.children[0]?.state === 'stopped', 10_000, 'tree stopped in health');
      const table = await flotilla('devices', '--api', cluster.api);
      expect(table).toMatch(/^l-1 .*degraded.*  desired revision 1: .*init returned 7: missing field$/m);
    } finally {
      await agent.stop();
    }
  });

  it('answers 404 for an unknown device and 400 for a bad query, naming what is wrong', async () => {
    expect((await fetch(`${cluster.api}/api/v1/devices/nobody/logs`)).status).toBe(404);
    const bad = await fetch(`${cluster.api}/api/v1/devices/l-1/logs?level=loud`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/^invalid query: level: /);
  });

  it('drops and counts a malformed log line from a device', async () => {
    const invalid = async () => ((await (await fetch(`${cluster.api}/api/v1/cluster`)).json()) as { invalidMessages: number }).invalidMessages;
    const before = await invalid();
    await bus().publishAsync(deviceTopic('l-1', 'logs'), JSON.stringify({ ts: 1, level: 'fatal', message: 'x' }), { qos: 1 });
    await eventually(async () => (await invalid()) === before + 1, 10_000, 'counted');
    expect(cluster.lines.some((l) => l.includes('dropped invalid message on flotilla/d/l-1/logs: log line of l-1: level'))).toBe(true);
  });

  it('a step logging in a loop at full speed cannot raise the coordinator\'s message rate above the step\'s rate limit', async () => {
    const { token } = await api.enroll('l-2');
    const agent = spawnAgent(cluster.mqttUrl, 'l-2', token, join(dir.path, 'l-2'));
    // The counting subscriber: the coordinator's own client hears every device's logs topic.
    const received: LogLine[] = [];
    const count = (topic: string, payload: Buffer) => topic === deviceTopic('l-2', 'logs') && received.push(JSON.parse(payload.toString()));
    bus().on('message', count);
    try {
      await agent.waitFor('joined');
      const start = Date.now();
      await publishDesired('l-2', [{ id: 'flood', step: 'flood@1', input: 'flood/in' }]);
      await eventually(() => cluster.coordinator.directory.live.get('l-2')?.health?.children[0]?.state === 'running', 10_000, 'flood running');
      const messages = 20;
      for (let i = 0; i < messages; i++) await bus().publishAsync('flood/in', 'go', { qos: 1 });
      // Every line reaches the agent's own log; almost all are dropped before the network, and counted.
      await eventually(() => agent.lines.filter((l) => l.endsWith('[agent l-2/workload/root/flood] flooding')).length === messages * 1000, 30_000, 'all lines in the agent log');
      const health = await eventually(() => {
        const h = cluster.coordinator.directory.live.get('l-2')?.health;
        return h && h.logsDropped + received.filter((l) => l.step === 'root/flood').length === messages * 1000 && h;
      }, 30_000, 'dropped lines reported in health');
      const elapsedS = (Date.now() - start) / 1000;
      const fromStep = received.filter((l) => l.step === 'root/flood');
      expect(fromStep.length).toBeGreaterThanOrEqual(LOG_BURST);
      expect(fromStep.length).toBeLessThanOrEqual(LOG_BURST + Math.ceil(LOG_RATE_PER_S * elapsedS));
      expect(health.logsDropped).toBeGreaterThan(messages * 1000 - fromStep.length - 1);
    } finally {
      bus().off('message', count);
      await agent.stop();
    }
  });

  it('flotilla logs --follow prints each line once, also lines sharing a millisecond', () => {
    const cursor = new LogCursor(undefined);
    const a = { ts: 5, level: 'warn' as const, message: 'a' };
    const b = { ts: 5, level: 'warn' as const, message: 'b' };
    const c = { ts: 6, level: 'error' as const, message: 'c' };
    expect(cursor.fresh([a])).toEqual([a]);
    expect(cursor.since).toBe(4);
    expect(cursor.fresh([a, b])).toEqual([b]);
    expect(cursor.fresh([a, b, c])).toEqual([c]);
    expect(cursor.fresh([c])).toEqual([]);
    expect(new LogCursor(100).since).toBe(100);
  });
});
