import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceList } from '../../shared/api.js';
import { deviceTopic } from '../../shared/topics.js';
import { connectDevice, eventually } from '../helpers/cluster.js';
import { device, startNode, type Node } from './tree.js';

let root: Node, site: Node;

beforeAll(async () => {
  root = await startNode('root');
  site = await startNode('site', root);
});
afterAll(async () => {
  await site.stop();
  await root.stop();
});

const rootIds = async () => DeviceList.parse(await (await fetch(`${root.api}/api/v1/devices`)).json()).devices.map((d) => d.id);

describe('removing a device', () => {
  it('kicks its session, clears its retained topics, and it disappears up the tree', async () => {
    const gone = await device(site, 'gone');
    await gone.publishAsync(deviceTopic('gone', 'status'), JSON.stringify({ online: true, ts: Date.now() }), { qos: 1, retain: true });
    await site.coordinator['bus'].client.publishAsync(deviceTopic('gone', 'desired'), '{"revision":1}', { qos: 1, retain: true });
    await eventually(async () => (await rootIds()).includes('site/gone'), 10_000, 'site/gone at the root');
    const closed = new Promise<void>((resolve) => gone.once('close', () => resolve()));

    const res = await fetch(`${site.api}/api/v1/devices/gone`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    await closed; // the broker ended the removed device's session
    await eventually(async () => !(await rootIds()).includes('site/gone'), 10_000, 'site/gone removed at the root');

    // Nothing retained of it is left on the site's broker (a new subscription would be handed any retained copy).
    const bus = site.coordinator['bus'].client;
    const retained: string[] = [];
    const listener = (topic: string, payload: Buffer, packet: { retain: boolean }) => {
      if (topic.startsWith('flotilla/d/gone/') && packet.retain && payload.length) retained.push(topic);
    };
    bus.on('message', listener);
    await bus.subscribeAsync('flotilla/d/gone/+', { qos: 1 });
    await bus.unsubscribeAsync('flotilla/d/gone/+');
    bus.off('message', listener);
    expect(retained).toEqual([]);
    await expect(connectDevice(site.mqttUrl, 'gone', 'any-token-at-all')).rejects.toThrow(/Bad username or password/);
  });
});
