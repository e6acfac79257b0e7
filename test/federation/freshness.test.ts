import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectHealth } from '../../agent/health.js';
import { DeviceList } from '../../shared/api.js';
import { DeviceHistory } from '../../shared/stream.js';
import { deviceTopic } from '../../shared/topics.js';
import { eventually } from '../helpers/cluster.js';
import { device, startNode, tempDir, type Node } from './tree.js';

/**
 * root → eu → site1, one device x in site1 reporting every 200 ms. Details of x go up only on significant changes,
 * so the root learns its history by asking (`history` op) and its last-seen from site1's alive messages.
 */
const INTERVAL_MS = 200;
let root: Node, eu: Node, site1: Node, x: MqttClient;
let reporter: NodeJS.Timeout;
let reports = 0;
const startedAt = Date.now();
const dirs = tempDir();

const get = async (n: Node, path: string) => {
  const res = await fetch(`${n.api}${path}`);
  return { status: res.status, body: await res.json() };
};
const rootView = async () => DeviceList.parse((await get(root, '/api/v1/devices')).body).devices.find((d) => d.id === 'eu/site1/x');

let stopping = false;
beforeAll(async () => {
  root = await startNode('root');
  eu = await startNode('eu', root);
  site1 = await startNode('site1', eu);
  x = await device(site1, 'x');
  const report = async () => {
    const health = await collectHealth({ seq: reports++, intervalS: INTERVAL_MS / 1000, target: 't', dataDir: dirs.path, invalidMessages: 0, contributions: [] });
    if (stopping) return; // a report started before afterAll must not publish on the ended client
    await x.publishAsync(deviceTopic('x', 'health'), JSON.stringify({ ...health, uptimeS: (Date.now() - startedAt) / 1000 }), { qos: 1 });
  };
  await report();
  reporter = setInterval(() => void report(), INTERVAL_MS);
  await eventually(async () => (await rootView())?.online, 10_000, 'x online at the root');
});
afterAll(async () => {
  stopping = true;
  clearInterval(reporter);
  await x?.endAsync();
  for (const n of [site1, eu, root]) await n?.stop();
  dirs.cleanup();
});

describe('a device two clusters below, seen from the root', () => {
  it('its history is fetched from its own coordinator: the whole ring, not one sample', async () => {
    const history = await eventually(async () => {
      const { status, body } = await get(root, `/api/v1/devices/${encodeURIComponent('eu/site1/x')}/history`);
      expect(status).toBe(200);
      const h = DeviceHistory.parse(body);
      return h.ts.length >= 5 && h;
    }, 10_000, 'five samples in the history at the root');
    expect(history).toMatchObject({ id: 'eu/site1/x', intervalS: INTERVAL_MS / 1000 });
    expect(history.rssBytes).toHaveLength(history.ts.length);
    // The same ring its own coordinator keeps (ours may be a report behind).
    const local = DeviceHistory.parse((await get(site1, '/api/v1/devices/x/history')).body);
    expect(local.ts.slice(0, history.ts.length)).toEqual(history.ts);
    expect((await get(root, `/api/v1/devices/${encodeURIComponent('eu/site1/ghost')}/history`)).status).toBe(404);
  });

  it('its last-seen and uptime move forward at the root as it keeps reporting', async () => {
    // A last-seen frozen at the first detail (the bug this guards) would never pass the one seen before.
    let previous = (await rootView())!;
    for (let i = 0; i < 3; i++) {
      const after = reports + 3;
      await eventually(() => reports >= after, 30_000, 'three more reports');
      const d = await eventually(async () => {
        const v = (await rootView())!;
        return v.lastSeen! > previous.lastSeen! && v.uptimeS! > previous.uptimeS! && v;
      }, 30_000, 'a newer last-seen and uptime at the root');
      expect(d.online).toBe(true);
      previous = d;
    }
  }, 120_000);
});
