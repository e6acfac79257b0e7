import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import { wat } from '../runtime/harness.js';
import { connectDevice, eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';

// A hot swap through the whole path: step pushed to the coordinator, desired state applied over the API, module
// fetched by a real agent process, data over MQTT. tag@1 prefixes each input with "A", tag@2 with "B": two
// genuinely different modules, so a swap that did nothing would keep emitting "A".

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
let watcher: MqttClient;
const dir = tempDir();
const outputs: string[] = [];
const tagged = (tag: number) => wat('tag', (t) => t.replace('(i32.const 65)) ;; TAG', `(i32.const ${tag})) ;; TAG`));

const tree = (step: string) => ({ id: 'root', intensity: 5, period: 5, children: [{ id: 'tagger', step, input: 'sensors/swap/in', output: 'tagged' }] });

beforeAll(async () => {
  cluster = await startCoordinator();
  api = new ApiClient(cluster.api);
  await api.pushStep({ name: 'tag', version: '1', module: Buffer.from(tagged(65)).toString('base64') });
  await api.pushStep({ name: 'tag', version: '2', module: Buffer.from(tagged(66)).toString('base64') });
  watcher = await connectDevice(cluster.mqttUrl, 'watcher', (await api.enroll('watcher')).token);
  await watcher.subscribeAsync('flotilla/d/swap-1/out/tagged', { qos: 1 });
  watcher.on('message', (_, payload) => outputs.push(payload.toString()));
});
afterAll(async () => {
  await watcher.endAsync();
  await cluster.stop();
  dir.cleanup();
});

const events = (id: string) => cluster.coordinator.directory.live.get(id)?.events ?? [];

describe('hot swap through a desired state', () => {
  it('tag@1 → tag@2 while data flows: every message once, in order, A before B, no restart', async () => {
    const { token } = await api.enroll('swap-1');
    const agent = spawnAgent(cluster.mqttUrl, 'swap-1', token, join(dir.path, 'swap-1'));
    try {
      await agent.waitFor('joined');
      await api.applyDesired({ device: 'swap-1' }, tree('tag@1'));
      await eventually(() => events('swap-1').some((e) => e.type === 'child_started'), 20_000, 'tagger started');

      let sent = 0;
      const send = async (n: number) => {
        for (const end = sent + n; sent < end; sent++) await watcher.publishAsync('sensors/swap/in', String(sent), { qos: 1 });
      };
      await send(50);
      await eventually(() => outputs.length >= 1, 20_000, 'first output');
      // Keep data flowing while the new desired state travels and the swap happens.
      const applied = api.applyDesired({ device: 'swap-1' }, tree('tag@2'));
      const giveUp = Date.now() + 20_000; // an overall timeout: a swap that never happens fails the checks below
      while (!outputs.some((o) => o.startsWith('B')) && Date.now() < giveUp) {
        await send(10);
        await new Promise((r) => setImmediate(r));
      }
      await applied;
      await send(50);
      await eventually(() => outputs.length >= sent && outputs, 20_000, `${sent} outputs`);

      // Once each, in order: the numbers after the tag are 0..sent-1.
      expect(outputs.map((o) => Number(o.slice(1)))).toEqual([...Array(sent).keys()]);
      // One switch point: every A comes before every B, and both versions processed something.
      const tags = outputs.map((o) => o[0]).join('');
      expect(tags).toMatch(/^A+B+$/);
      // No restart: the child started once, nothing terminated, health counts 0 restarts and runs tag@2.
      expect(events('swap-1').filter((e) => e.type === 'child_started' || e.type === 'child_terminated').map((e) => e.type)).toEqual(['child_started']);
      const health = await eventually(() => {
        const h = cluster.coordinator.directory.live.get('swap-1')?.health;
        return h?.children?.some((c) => c.step === 'tag@2') && h;
      }, 20_000, 'health naming tag@2');
      expect(health.restartsTotal).toBe(0);
    } finally {
      await agent.stop();
    }
  });
});
