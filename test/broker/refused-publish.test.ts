import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, eventually, startCoordinator } from '../helpers/cluster.js';
import { metric } from '../helpers/metrics.js';

const tokens = { wrong: 'tok-wrong' };
let cluster: Awaited<ReturnType<typeof startCoordinator>>;

beforeAll(async () => {
  cluster = await startCoordinator({ tokens });
});
afterAll(async () => {
  await cluster.stop();
});

describe('refused publishes', () => {
  it('a refused QoS 1 PUBLISH is acknowledged and dropped; the session stays up and later messages flow (finding 5)', async () => {
    const denied = await metric(cluster.api, 'flotilla_denied_requests_total', { action: 'publish' });
    const wrong = await connectDevice(cluster.mqttUrl, 'wrong', tokens.wrong, { clean: false });
    let closed = 0;
    wrong.on('close', () => closed++);
    // Before: aedes dropped the connection and mqtt.js resent this message on every reconnect.
    await wrong.publishAsync('flotilla/oops', 'refused', { qos: 1 });
    expect(await metric(cluster.api, 'flotilla_denied_requests_total', { action: 'publish' })).toBe(denied + 1);
    await wrong.publishAsync(deviceTopic('wrong', 'health'), JSON.stringify(health(1)), { qos: 1 });
    await eventually(() => cluster.coordinator.directory.live.get('wrong')?.lastSeen, 5000, 'health after the refusal');
    expect({ closed, connected: wrong.connected }).toEqual({ closed: 0, connected: true });
    await wrong.endAsync();
  });
});

function health(seq: number) {
  return {
    ts: Date.now(), seq, intervalS: 1, agentVersion: 't', target: 't', arch: 'x64', platform: 'linux', nodeVersion: 'v20', uptimeS: 1,
    memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: 1, invalidMessages: 0, children: [], steps: [],
    rates: { in: 0, out: 0 }, restartsTotal: 0,
  };
}
