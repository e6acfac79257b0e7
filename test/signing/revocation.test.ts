import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { FLOTILLA_MAIN, type FlotillaProcess } from '../../cli/processes.js';
import { REVOKED_FROM_PARENT, REVOKED_TOPIC, RevocationList } from '../../shared/revocations.js';
import { generateSigningKey, signStep, type StepSignature } from '../../shared/signing.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { eventually, jsonBody, spawnAgent, startCoordinator } from '../helpers/cluster.js';
import { metric } from '../helpers/metrics.js';
import { launchChromium } from '../dashboard/browser.js';
import { device, enrollCluster, startNode, tempDir, type Node } from '../federation/tree.js';

/**
 * Revocation through a real tree: a root, its child cluster `site`, and two agent processes on the site (two levels
 * below the root) that trust `old` and `next` (a rotation in progress). `a1` rotates to `next`; `a2` still runs a
 * module signed by `old` when `old` is revoked at the root.
 */
const run = promisify(execFile);
const dir = tempDir();
const crashy = wat('supervised-crashy');
const [old, next] = [generateSigningKey(), generateSigningKey()];
const siteDir = join(dir.path, 'site');
let root: Node;
let site: Node;
let siteLink: { url: string; token: string };
const agents = new Map<string, FlotillaProcess & { lines: string[] }>();
const tokens = new Map<string, string>();
let mallory: MqttClient | undefined;

const sign = (ref: string, key: { privatePem: string }) => signStep({ ref, sha256: sha256Hex(crashy) }, createPrivateKey(key.privatePem));
const upload = (api: string, version: string, signature: StepSignature) =>
  fetch(`${api}/api/v1/steps`, { method: 'POST', body: JSON.stringify({ name: 'crashy', version, module: Buffer.from(crashy).toString('base64'), signature }) });

/** Send a spec running `ref` (as child `child`) to `site/<id>` from the root; its revision. */
async function deploy(id: string, ref: string, child = 'echo'): Promise<number> {
  const spec = { id: 'root', children: [{ id: child, step: ref }] };
  const res = await jsonBody(fetch(`${root.api}/api/v1/desired`, { method: 'POST', body: JSON.stringify({ target: { device: `site/${id}` }, spec }) }));
  return res.acks[`site/${id}`].result.revision;
}

const health = (id: string) => site.coordinator.directory.live.get(id)?.health;
const events = (id: string) => site.coordinator.directory.live.get(id)?.events ?? [];
/** The agent reports `revision` applied with its worker `child` up, running `ref`. */
const running = (id: string, ref: string, revision?: number, child = 'echo') =>
  eventually(
    () => {
      const h = health(id);
      return h?.steps.some((s) => s.ref === ref) && h.children.find((c) => c.path === `root/${child}`)?.state === 'running' && (revision === undefined || h.revision === revision);
    },
    20_000,
    `${id} running ${ref}`,
  );

const startSite = (mqttPort = 0) => startCoordinator({ cluster: 'site', parent: siteLink, summaryMs: 100, dataDir: siteDir, mqttPort });

function startAgent(id: string) {
  const trust = [old, next].map((k, i) => join(dir.path, `publisher-${i}.pub`));
  const agent = spawnAgent(site.mqttUrl, id, tokens.get(id)!, join(dir.path, id), trust.flatMap((t) => ['--trust', t]));
  agents.set(id, agent);
  return agent;
}

beforeAll(async () => {
  [old, next].forEach((k, i) => writeFileSync(join(dir.path, `publisher-${i}.pub`), k.publicPem));
  writeFileSync(join(dir.path, 'old.pub'), old.publicPem);
  root = await startNode('root');
  siteLink = { url: root.mqttUrl, token: await enrollCluster(root.api, 'site') };
  site = await startSite();
  await site.coordinator.federation.bridge!.whenUp();
  for (const id of ['a1', 'a2']) {
    tokens.set(id, (await new ApiClient(site.api).enroll(id)).token);
    await startAgent(id).waitFor('joined');
  }
}, 60_000);
afterAll(async () => {
  await mallory?.endAsync();
  for (const agent of agents.values()) await agent.stop();
  await site?.stop();
  await root?.stop();
  dir.cleanup();
});

describe('revoking a publisher key at the root', () => {
  it('key rotation with two trusted keys, then the old key revoked: the list reaches agents two levels down; a device still running an old-signed step keeps it and is reported', async () => {
    expect((await upload(root.api, '1', sign('crashy@1', old))).status).toBe(201);
    expect((await upload(root.api, '2', sign('crashy@2', next))).status).toBe(201);
    await Promise.all(['a1', 'a2'].map(async (id) => running(id, 'crashy@1', await deploy(id, 'crashy@1'))));
    // a1 rotates to the new key; a2 is left on the old one.
    await running('a1', 'crashy@2', await deploy('a1', 'crashy@2'));

    const { stdout } = await run(process.execPath, [FLOTILLA_MAIN, 'keys', 'revoke', join(dir.path, 'old.pub'), '--reason', 'rotated out', '--api', root.api]);
    expect(stdout).toMatch(new RegExp(`^${old.keyId}  revoked \\S+  rotated out$`, 'm'));
    // Acknowledged means durable: the root answered once the list was on disk.
    expect(RevocationList.parse(await jsonBody(fetch(`${root.api}/api/v1/keys/revocations`))).keys).toEqual([expect.objectContaining({ keyId: old.keyId, reason: 'rotated out' })]);

    // Down the bridge to the site (stored there too), and to its agents.
    await eventually(async () => RevocationList.parse(await jsonBody(fetch(`${site.api}/api/v1/keys/revocations`))).keys.length === 1, 10_000, 'the list at the site');
    await eventually(() => agents.get('a2')!.lines.some((l) => l.includes(`keys revoked: ${old.keyId}`)), 10_000, 'a2 told');
    await eventually(() => health('a2')?.revokedSteps?.includes('crashy@1'), 10_000, 'a2 reports crashy@1');
    // Reported, not stopped: the step still runs (docs/decisions.md).
    await running('a2', 'crashy@1');
    expect(agents.get('a1')!.lines.some((l) => l.includes(`keys revoked: ${old.keyId}`))).toBe(true);
    expect(health('a1')?.revokedSteps ?? []).toEqual([]);

    // Carried up: the root's summary of site/a2 says so, and `flotilla devices --revoked` finds it.
    await eventually(() => root.coordinator.directory.summary('site/a2')?.revokedSteps?.includes('crashy@1'), 10_000, 'site/a2 at the root');
    const listed = await run(process.execPath, [FLOTILLA_MAIN, 'devices', '--revoked', '--api', root.api]);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/REVOKED KEY/);
    expect(lines.slice(1)).toEqual([expect.stringMatching(/^site\/a2\s.*crashy@1$/)]);

    // The root's dashboard marks site/a2, and only it.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${root.api}/#/`);
      await page.locator('tr[data-device="site/a2"] [data-revoked-steps="crashy@1"]').waitFor({ timeout: 10_000 });
      await page.locator('tr[data-device="site/a1"]').waitFor();
      expect(await page.locator('[data-revoked-steps]').count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('a module signed by the revoked key is refused with the tree left running, and so are uploads signed by it, at the root and below', async () => {
    const revision = await deploy('a1', 'crashy@1', 'again');
    const failed = await eventually(() => events('a1').find((e) => e.type === 'desired_failed' && e.data.revision === revision), 15_000, 'desired_failed on a1');
    expect(failed.data.reason).toBe(`step refused: crashy@1 is signed by revoked key ${old.keyId}`);
    await running('a1', 'crashy@2');

    for (const api of [root.api, site.api]) {
      const res = await upload(api, '3', sign('crashy@3', old));
      expect(res.status).toBe(403);
      expect((await jsonBody(res)).error.message).toBe(`step refused: crashy@3 is signed by revoked key ${old.keyId}`);
    }
    // Revocations are made at the root only.
    const atSite = await fetch(`${site.api}/api/v1/keys/revocations`, { method: 'POST', body: JSON.stringify({ keyId: next.keyId }) });
    expect(atSite.status).toBe(409);
  }, 60_000);

  it("a device's forged revocation list is refused by the broker's ACL: the list, and what agents run, stay as the root made them", async () => {
    mallory = await device(site, 'mallory');
    const denied = await metric(site.api, 'flotilla_denied_requests_total', { action: 'publish' });
    // Revoking the key everyone runs now would stop the fleet taking updates; un-revoking `old` would let it back in.
    const forged = JSON.stringify({ keys: [{ keyId: next.keyId, revokedAt: 1 }] });
    await mallory!.publishAsync(REVOKED_TOPIC, forged, { qos: 1, retain: true });
    await mallory!.publishAsync(REVOKED_FROM_PARENT, forged, { qos: 1, retain: true });
    await mallory!.publishAsync(REVOKED_TOPIC, JSON.stringify({ keys: [] }), { qos: 1, retain: true });
    expect(await metric(site.api, 'flotilla_denied_requests_total', { action: 'publish' })).toBe(denied + 3);

    // What the broker retains (and any device reads) is still the coordinator's list.
    const retained = new Promise<Buffer>((resolve) => mallory!.once('message', (_t, payload) => resolve(payload)));
    await mallory!.subscribeAsync(REVOKED_TOPIC, { qos: 1 });
    expect(RevocationList.parse(JSON.parse((await retained).toString())).keys.map((r) => r.keyId)).toEqual([old.keyId]);
    expect(RevocationList.parse(await jsonBody(fetch(`${site.api}/api/v1/keys/revocations`))).keys.map((r) => r.keyId)).toEqual([old.keyId]);
    // An agent still takes a module signed by the key the forgery named.
    await running('a1', 'crashy@2', await deploy('a1', 'crashy@2', 'still'), 'still');
  }, 60_000);

  it('an agent restarted while its coordinator is down still honours the revocation (from its local state)', async () => {
    const a2 = agents.get('a2')!;
    await a2.stop();
    const port = site.coordinator.mqttPort;
    await site.stop();
    const restarted = startAgent('a2');
    // Offline: no coordinator to tell it, yet it resumes its stored tree and knows crashy@1's key is revoked.
    await eventually(() => restarted.lines.some((l) => l.includes(`step crashy@1 is signed by revoked key ${old.keyId}: kept running`)), 20_000, 'a2 remembers offline');
    expect(restarted.lines.some((l) => l.includes('connected to'))).toBe(false);

    // Its coordinator back (its own list from disk): a2 reports the step again.
    site = await startSite(port);
    expect(RevocationList.parse(await jsonBody(fetch(`${site.api}/api/v1/keys/revocations`))).keys.map((r) => r.keyId)).toEqual([old.keyId]);
    await restarted.waitFor('joined', 30_000);
    await eventually(() => health('a2')?.revokedSteps?.includes('crashy@1'), 15_000, 'a2 reports crashy@1 after the restart');
    await running('a2', 'crashy@1');
  }, 90_000);
});
