import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { ClusterSummary, ClusterTree } from '../../shared/api.js';
import { deviceTopic } from '../../shared/topics.js';
import { collectHealth } from '../../agent/health.js';
import { connectDevice, eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { scrape } from '../helpers/metrics.js';

const TOKEN = 'metrics-test-token';
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
const dirs = tempDir();

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: TOKEN });
  api = new ApiClient(cluster.api, TOKEN);
});
afterAll(async () => {
  await cluster.stop();
  dirs.cleanup();
});

const get = async (path: string) => (await fetch(`${cluster.api}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();

describe('GET /metrics', () => {
  it('needs the API token and answers in the Prometheus text format', async () => {
    expect((await fetch(`${cluster.api}/metrics`)).status).toBe(401);
    const m = await scrape(cluster.api, TOKEN);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.families.get('flotilla_mqtt_messages_in_total')?.type).toBe('COUNTER');
    expect(m.families.get('flotilla_devices')?.type).toBe('GAUGE');
    // The coordinator's own client is connected to its embedded broker.
    expect(m.value('flotilla_broker_clients', { kind: 'internal' })).toBeGreaterThanOrEqual(1);
  });

  it('moves with real traffic: messages by kind, invalid, denied, HTTP errors, devices by state, per device', async () => {
    const before = await scrape(cluster.api, TOKEN);
    const { token } = await api.enroll('m-1');
    await api.enroll('m-never');
    const device = await connectDevice(cluster.mqttUrl, 'm-1', token);
    await expect(connectDevice(cluster.mqttUrl, 'm-1', 'wrong-token')).rejects.toThrow(/Bad username or password/);
    const health = await collectHealth({ seq: 0, intervalS: 5, target: 't', dataDir: dirs.path, invalidMessages: 0, contributions: [] });
    for (let i = 0; i < 3; i++) await device.publishAsync(deviceTopic('m-1', 'health'), JSON.stringify({ ...health, seq: i }), { qos: 1 });
    await device.publishAsync(deviceTopic('m-1', 'health'), '{"ts":1}', { qos: 1 });
    expect((await fetch(`${cluster.api}/api/v1/nothing`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    // A command nobody acknowledges still went out.
    await fetch(`${cluster.api}/api/v1/devices/m-1/commands`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ command: { type: 'ping' }, timeoutMs: 50 }) });

    const after = await eventually(async () => {
      const m = await scrape(cluster.api, TOKEN);
      return m.value('flotilla_invalid_messages_total', { source: 'device' }) > before.value('flotilla_invalid_messages_total', { source: 'device' }) && m;
    }, 5000, 'the invalid health counted');
    const moved = (name: string, labels: Record<string, string>) => after.value(name, labels) - before.value(name, labels);
    expect(moved('flotilla_mqtt_messages_in_total', { kind: 'd/health' })).toBe(4);
    expect(moved('flotilla_invalid_messages_total', { source: 'device' })).toBe(1);
    expect(moved('flotilla_denied_requests_total', { action: 'connect' })).toBe(1);
    expect(moved('flotilla_http_errors_total', { status: '404' })).toBe(1);
    expect(moved('flotilla_http_errors_total', { status: '504' })).toBe(1);
    expect(moved('flotilla_mqtt_messages_out_total', { kind: 'd/cmd' })).toBe(1);
    expect(after.value('flotilla_broker_clients', { kind: 'device' })).toBe(1);
    expect(after.value('flotilla_devices', { scope: 'own', state: 'online' })).toBe(1);
    expect(after.value('flotilla_devices', { scope: 'own', state: 'unknown' })).toBe(1);
    expect(after.value('flotilla_device_online', { device: 'm-1' })).toBe(1);
    expect(after.value('flotilla_device_invalid_messages', { device: 'm-1' })).toBe(1);
    expect(after.value('flotilla_device_rss_bytes', { device: 'm-1' })).toBe(health.memory.rss);
    // Both enrolments were acknowledged after a durable commit, and each commit was timed.
    expect(moved('flotilla_store_write_seconds', {})).toBeGreaterThanOrEqual(1);

    // The same roll-up everywhere: /metrics, GET /api/v1/cluster and the root of GET /api/v1/clusters.
    const summary = ClusterSummary.parse(await get('/api/v1/cluster'));
    const tree = ClusterTree.parse(await get('/api/v1/clusters'));
    expect(summary.devices).toEqual(tree.root.own.devices);
    expect(summary.devices.unknown).toBe(after.value('flotilla_devices', { scope: 'own', state: 'unknown' }));
    expect(summary.invalidMessages).toBe(after.value('flotilla_invalid_messages_total'));

    await device.endAsync();
    await eventually(async () => (await scrape(cluster.api, TOKEN)).value('flotilla_broker_clients', { kind: 'device' }) === 0, 5000, 'the device gone');
  });
});
