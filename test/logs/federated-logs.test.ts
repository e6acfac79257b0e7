import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceLogs, type LogLine } from '../../shared/logs.js';
import { deviceTopic } from '../../shared/topics.js';
import { eventually } from '../helpers/cluster.js';
import { device, startNode, type Node } from '../federation/tree.js';

/** root → site1, a raw device x in site1 sending log lines as an agent would. */
let root: Node, site1: Node, x: MqttClient;
const upstream: string[] = [];

beforeAll(async () => {
  root = await startNode('root');
  site1 = await startNode('site1', root);
  x = await device(site1, 'x');
  await x.publishAsync(deviceTopic('x', 'status'), JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
  await eventually(async () => (await fetch(`${root.api}/api/v1/devices/site1%2Fx`)).status === 200, 10_000, 'x known at the root');
  // Everything that reaches the root from its children.
  const rootClient: MqttClient = root.coordinator['bus'].client;
  await rootClient.subscribeAsync('flotilla/up/#', { qos: 1 });
  rootClient.on('message', (topic, payload) => topic.startsWith('flotilla/up/') && upstream.push(payload.toString()));
});
afterAll(async () => {
  await x?.endAsync();
  for (const n of [site1, root]) await n?.stop();
});

describe('logs of a device below', () => {
  it('stay in its own cluster until asked for, then come up on request with the qualified id', async () => {
    const line: LogLine = { ts: Date.now(), level: 'error', step: 'root/avg', message: 'marker-7f3a config must be {"field": string}' };
    await x.publishAsync(deviceTopic('x', 'logs'), JSON.stringify(line), { qos: 1 });
    const local = await eventually(async () => {
      const body = DeviceLogs.parse(await (await fetch(`${site1.api}/api/v1/devices/x/logs`)).json());
      return body.lines.length === 1 && body;
    }, 10_000, 'the line at site1');
    expect(local.lines[0]).toEqual(line);
    // An event sent after the line goes up by itself; the line, sent before it on the same session, did not.
    await x.publishAsync(deviceTopic('x', 'events'), JSON.stringify({ ts: Date.now(), seq: 0, type: 'marker-event', data: {} }), { qos: 1 });
    await eventually(() => upstream.some((p) => p.includes('marker-event')), 10_000, 'the event at the root');
    expect(upstream.some((p) => p.includes('marker-7f3a'))).toBe(false);

    const res = await fetch(`${root.api}/api/v1/devices/site1%2Fx/logs?step=root/avg`);
    expect(res.status).toBe(200);
    const body = DeviceLogs.parse(await res.json());
    expect(body).toMatchObject({ id: 'site1/x', lines: [line], droppedAtCoordinator: 0 });
    expect(upstream.some((p) => p.includes('marker-7f3a'))).toBe(true);
    // The query travels with the request: a filter that matches nothing gives nothing.
    const none = DeviceLogs.parse(await (await fetch(`${root.api}/api/v1/devices/site1%2Fx/logs?step=root/other`)).json());
    expect(none.lines).toEqual([]);
    expect((await fetch(`${root.api}/api/v1/devices/site1%2Fnobody/logs`)).status).toBe(404);
  });
});
