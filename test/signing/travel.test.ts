import { execFile } from 'node:child_process';
import { createPublicKey, createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { FLOTILLA_MAIN } from '../../cli/processes.js';
import { DesiredMessage } from '../../shared/desired.js';
import { StepInfo, StepList } from '../../shared/modules.js';
import { generateSigningKey, signatureProblem, signStep, trustedKeys } from '../../shared/signing.js';
import { manifestFor, sha256Hex } from '../../shared/step-manifest.js';
import { deviceTopic } from '../../shared/topics.js';
import { wat } from '../runtime/harness.js';
import { eventually, spawnAgent } from '../helpers/cluster.js';
import { device, startNode, tempDir, type Node } from '../federation/tree.js';
import { metric } from '../helpers/metrics.js';

const run = promisify(execFile);
const dir = tempDir();
const key = generateSigningKey();
const bytes = wat('supervised-crashy');
let root: Node;
let site: Node;
let s1: MqttClient;

beforeAll(async () => {
  root = await startNode('root');
  site = await startNode('site', root);
  await site.coordinator.federation.bridge!.whenUp();
  s1 = await device(site, 's1');
  await eventually(() => root.coordinator.directory.below.devices.size === 1, 10_000, 's1 at the root');
}, 30_000);
afterAll(async () => {
  await s1?.endAsync();
  await site?.stop();
  await root?.stop();
  dir.cleanup();
});

describe('a signature travels with its module', () => {
  it('from step push --sign to the registry, through the root and a site hop, into the desired state a device receives', async () => {
    const wasmPath = join(dir.path, 'crashy.wasm');
    writeFileSync(wasmPath, bytes);
    const manifest = manifestFor(bytes, { name: 'crashy', version: '1', limits: { timeBudgetMs: 300 } });
    writeFileSync(join(dir.path, 'crashy.manifest.json'), JSON.stringify(manifest));
    writeFileSync(join(dir.path, 'acme.key'), key.privatePem, { mode: 0o600 });
    await run(process.execPath, [FLOTILLA_MAIN, 'step', 'push', wasmPath, '--sign', join(dir.path, 'acme.key'), '--api', root.api]);

    const expected = signStep({ ref: 'crashy@1', sha256: sha256Hex(bytes), limits: manifest.limits }, createPrivateKey(key.privatePem));
    const listed = StepList.parse(await (await fetch(`${root.api}/api/v1/steps`)).json()).steps;
    expect(listed).toEqual([expect.objectContaining({ ref: 'crashy@1', signature: expected })]);

    const received = new Promise<DesiredMessage>((resolve) => s1.on('message', (_t, payload) => resolve(DesiredMessage.parse(JSON.parse(payload.toString())))));
    await s1.subscribeAsync(deviceTopic('s1', 'desired'), { qos: 1 });
    const spec = { id: 'root', children: [{ id: 'echo', step: 'crashy@1' }] };
    const res = await fetch(`${root.api}/api/v1/desired`, { method: 'POST', body: JSON.stringify({ target: { device: 'site/s1' }, spec }) });
    expect(res.status).toBe(200);
    const desired = await received;
    expect(desired.modules['crashy@1']).toEqual({ sha256: sha256Hex(bytes), size: bytes.length, limits: manifest.limits, signature: expected });
    // What the device got still verifies: nothing on the way changed the ref, digest or limits it covers.
    const mod = desired.modules['crashy@1'];
    expect(signatureProblem(trustedKeys([createPublicKey(key.publicPem)]), { ref: 'crashy@1', ...mod }, mod.signature)).toBeUndefined();
    expect((await new ApiClient(site.api).desired('s1'))?.modules['crashy@1'].signature).toEqual(expected);
  });

  it('an agent two levels down that trusts the key runs it, fetched through the site\'s module cache', async () => {
    const { token } = await new ApiClient(site.api).enroll('s2');
    const pub = join(dir.path, 'acme.pub');
    writeFileSync(pub, key.publicPem);
    const agent = spawnAgent(site.mqttUrl, 's2', token, join(dir.path, 's2'), ['--trust', pub]);
    try {
      await agent.waitFor('joined');
      const spec = { id: 'root', children: [{ id: 'echo', step: 'crashy@1' }] };
      const res = await fetch(`${root.api}/api/v1/desired`, { method: 'POST', body: JSON.stringify({ target: { device: 'site/s2' }, spec }) });
      expect(res.status).toBe(200);
      await eventually(() => agent.lines.some((l) => l.includes('running desired revision')), 15_000, 's2 runs the signed step');
      expect(agent.lines.some((l) => l.includes('step refused'))).toBe(false);
      expect(await metric(site.api, 'flotilla_modules_fetched_upstream_total')).toBe(1);
    } finally {
      await agent.stop();
    }
  });

  it('the same bytes pushed again with a new signature keep it (a build signed after its first push)', async () => {
    const other = generateSigningKey();
    const step = { ref: 'crashy@1', sha256: sha256Hex(bytes), limits: { timeBudgetMs: 300 } };
    const signature = signStep(step, createPrivateKey(other.privatePem));
    const res = await fetch(`${root.api}/api/v1/steps`, { method: 'POST', body: JSON.stringify({ name: 'crashy', version: '1', module: Buffer.from(bytes).toString('base64'), signature }) });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(StepInfo.parse(await res.json())).toMatchObject({ limits: { timeBudgetMs: 300 }, signature });
  });
});
