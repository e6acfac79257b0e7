import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepInfo } from '../../shared/modules.js';
import { deviceBase, fetchModule, fetchTopic, moduleTopic } from '../../shared/module-fetch.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { device, startNode, type Node } from './tree.js';
import { scrape } from '../helpers/metrics.js';
import { jsonBody } from '../helpers/cluster.js';

const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(n >>> 7)]);

/** A valid step (echo) grown by a custom section of `size` bytes of `seed`: distinct bytes per seed, any size. */
function wasm(size: number, seed: number): Buffer {
  const payload = [0x01, 0x70, ...Buffer.alloc(size, seed)]; // custom section named "p"
  return Buffer.concat([Buffer.from(wat('echo')), Buffer.from([0x00, ...leb(payload.length), ...payload])]);
}

/** What a node's module server did, from its /metrics. */
async function modules(node: Node) {
  const m = await scrape(node.api);
  return {
    servedDevices: m.value('flotilla_modules_served_total', { to: 'device' }),
    servedChildren: m.value('flotilla_modules_served_total', { to: 'child' }),
    fetchedUpstream: m.value('flotilla_modules_fetched_upstream_total'),
    bytesUpstream: m.value('flotilla_modules_upstream_bytes_total'),
  };
}

let root: Node, eu: Node, site1: Node;
const agents: MqttClient[] = [];
beforeAll(async () => {
  root = await startNode('root');
  eu = await startNode('eu', root);
  site1 = await startNode('site1', eu);
  await Promise.all([eu.coordinator.federation.bridge!.whenUp(), site1.coordinator.federation.bridge!.whenUp()]);
  for (let i = 0; i < 10; i++) agents.push(await device(site1, `a${i}`));
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.endAsync()));
  for (const n of [site1, eu, root]) await n?.stop();
});

const upload = (api: string, body: unknown) => fetch(`${api}/api/v1/steps`, { method: 'POST', body: JSON.stringify(body) });

describe('step registry', () => {
  it('stores an uploaded module by digest, verifies a given sha256, refuses a changed version', async () => {
    const bytes = wasm(100, 1);
    const res = await upload(root.api, { name: 'blink', version: '1.0.0', sha256: sha256Hex(bytes), module: bytes.toString('base64') });
    expect(res.status).toBe(201);
    expect(StepInfo.parse(await res.json())).toMatchObject({ ref: 'blink@1.0.0', sha256: sha256Hex(bytes), size: bytes.length });
    expect((await upload(root.api, { name: 'blink', version: '1.0.0', module: bytes.toString('base64') })).status).toBe(200);
    expect((await upload(root.api, { name: 'blink', version: '1.0.0', module: wasm(100, 2).toString('base64') })).status).toBe(409);
    const wrong = await upload(root.api, { name: 'blink', version: '2', sha256: 'f'.repeat(64), module: bytes.toString('base64') });
    expect(wrong.status).toBe(400);
    expect((await jsonBody(wrong)).error.message).toMatch(/hashes to/);
    expect((await upload(root.api, { name: 'x', version: '1', module: Buffer.from('not wasm at all').toString('base64') })).status).toBe(400);
    const list = await jsonBody(fetch(`${root.api}/api/v1/steps`));
    expect(list.steps.map((s: StepInfo) => s.ref)).toEqual(['blink@1.0.0']);
  });
});

describe('module caching down the tree', () => {
  it('one module fetched by 10 agents in site1 crosses the root link and the eu link once', async () => {
    const bytes = wasm(200_000, 7);
    const sha = sha256Hex(bytes);
    expect((await upload(root.api, { name: 'big', version: '1', module: bytes.toString('base64') })).status).toBe(201);
    const got = await Promise.all(agents.map((a, i) => fetchModule(a, fetchTopic(deviceBase(`a${i}`)), moduleTopic(deviceBase(`a${i}`), sha), sha, 10_000)));
    for (const g of got) expect(sha256Hex(g)).toBe(sha);
    expect(await modules(site1)).toMatchObject({ servedDevices: 10, fetchedUpstream: 1, bytesUpstream: bytes.length });
    expect(await modules(eu)).toMatchObject({ servedChildren: 1, fetchedUpstream: 1, bytesUpstream: bytes.length });
    expect(await modules(root)).toMatchObject({ servedChildren: 1, fetchedUpstream: 0 });
    // Later fetches are served from site1's cache.
    await fetchModule(agents[0], fetchTopic(deviceBase('a0')), moduleTopic(deviceBase('a0'), sha), sha, 5000);
    expect((await modules(site1)).fetchedUpstream).toBe(1);
    expect((await modules(root)).servedChildren).toBe(1);
  });

  it('an unknown digest fails fast, and a device cannot read another device\'s module replies', async () => {
    const sha = 'e'.repeat(64);
    await expect(fetchModule(agents[1], fetchTopic(deviceBase('a1')), moduleTopic(deviceBase('a1'), sha), sha, 10_000)).rejects.toThrow(/not available upstream/);
    await expect(agents[2].subscribeAsync(moduleTopic(deviceBase('a1'), sha), { qos: 1 })).rejects.toThrow(/Subscribe error/);
  });
});
