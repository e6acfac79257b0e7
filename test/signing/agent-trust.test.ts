import { createPrivateKey } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import type { FlotillaProcess } from '../../cli/processes.js';
import { generateSigningKey, signStep, type StepSignature } from '../../shared/signing.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { eventually, jsonBody, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';
import { metric } from '../helpers/metrics.js';

const dir = tempDir();
const crashy = wat('supervised-crashy');
const other = wat('init-fails');
// The agent trusts `old` and `next` (a rotation in progress), never `stranger`.
const [old, next, stranger] = [generateSigningKey(), generateSigningKey(), generateSigningKey()];
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let agent: FlotillaProcess & { lines: string[] };
let revision = 0;

const sign = (ref: string, bytes: Uint8Array, key: { privatePem: string }) => signStep({ ref, sha256: sha256Hex(bytes) }, createPrivateKey(key.privatePem));

async function push(version: string, bytes: Uint8Array, signature?: StepSignature) {
  const body = { name: 'crashy', version, module: Buffer.from(bytes).toString('base64'), ...(signature ? { signature } : {}) };
  const res = await fetch(`${cluster.api}/api/v1/steps`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(201);
}

async function apply(version: string): Promise<number> {
  const spec = { id: 'root', children: [{ id: 'echo', step: `crashy@${version}` }] };
  const res = await jsonBody(fetch(`${cluster.api}/api/v1/desired`, { method: 'POST', body: JSON.stringify({ target: { device: 't1' }, spec }) }));
  return (revision = res.acks.t1.result.revision);
}

/** Modules this coordinator has sent to its devices. */
const served = () => metric(cluster.api, 'flotilla_modules_served_total', { to: 'device' });
const events = () => cluster.coordinator.directory.live.get('t1')?.events ?? [];
const health = () => cluster.coordinator.directory.live.get('t1')?.health;
const failure = (rev: number) => eventually(() => events().find((e) => e.type === 'desired_failed' && e.data.revision === rev), 15_000, `desired_failed for revision ${rev}`);
/** The tree still runs the module of `version`, with its worker up. */
function stillRunning(version: string) {
  expect(health()?.steps).toEqual([expect.objectContaining({ ref: `crashy@${version}` })]);
  expect(health()?.children.find((c) => c.path === 'root/echo')?.state).toBe('running');
}

beforeAll(async () => {
  cluster = await startCoordinator();
  const { token } = await new ApiClient(cluster.api).enroll('t1');
  const trust = [old, next].map((k, i) => {
    const path = join(dir.path, `publisher-${i}.pub`);
    writeFileSync(path, k.publicPem);
    return path;
  });
  agent = spawnAgent(cluster.mqttUrl, 't1', token, join(dir.path, 't1'), ['--trust', trust[0], '--trust', trust[1]]);
  await agent.waitFor('joined');
}, 30_000);
afterAll(async () => {
  await agent?.stop();
  await cluster?.stop();
  dir.cleanup();
});

describe('an agent with trusted publisher keys', () => {
  it('runs a module signed by a trusted key', async () => {
    await push('1', crashy, sign('crashy@1', crashy, old));
    await apply('1');
    await eventually(() => health()?.children.find((c) => c.path === 'root/echo')?.state === 'running' && health()?.revision === revision, 15_000, 'crashy@1 running');
  });

  it('refuses an unsigned module, a tampered one and one signed by an untrusted key before storing it; the tree keeps running', async () => {
    const servedBefore = await served();
    await push('2', crashy);
    // Tampered: other bytes uploaded under a signature made for the original build of crashy@3.
    await push('3', other, sign('crashy@3', crashy, old));
    await push('4', crashy, sign('crashy@4', crashy, stranger));
    const cases: [string, RegExp][] = [
      ['2', /^step refused: crashy@2 is unsigned \(trusted keys: /],
      ['3', new RegExp(`^step refused: crashy@3: bad signature by key ${old.keyId}`)],
      ['4', new RegExp(`^step refused: crashy@4 is signed by untrusted key ${stranger.keyId}`)],
    ];
    for (const [version, reason] of cases) {
      const failed = await failure(await apply(version));
      expect(failed.data.reason).toMatch(reason);
      stillRunning('1');
    }
    // Refused before fetching: nothing was sent to the agent, and its store holds only the module it runs.
    expect(await served()).toBe(servedBefore);
    expect(JSON.stringify(readdirSync(join(dir.path, 't1', 'steps'), { recursive: true }))).not.toContain(sha256Hex(other));
  });

  it('key rotation: a module signed by the second trusted key replaces one signed by the first', async () => {
    await push('5', crashy, sign('crashy@5', crashy, next));
    await apply('5');
    await eventually(() => health()?.revision === revision && health()?.steps?.[0]?.ref === 'crashy@5', 15_000, 'crashy@5 running');
    expect(events().some((e) => e.type === 'desired_failed' && e.data.revision === revision)).toBe(false);
  });
});
