import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { FLOTILLA_MAIN, type FlotillaProcess } from '../../cli/processes.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { jsonBody, eventually, spawnAgent } from '../helpers/cluster.js';
import { startNode, tempDir, type Node } from './tree.js';
import { scrape } from '../helpers/metrics.js';

const run = promisify(execFile);
/** The built CLI as a child process (asynchronously: the coordinators of this test live in this process). */
async function flotilla(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [FLOTILLA_MAIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const dir = tempDir();
const crashy = wat('supervised-crashy');
const spec = {
  id: 'root',
  intensity: 5,
  children: [{ id: 'echo', step: 'crashy@1', input: 'sensors/site/in', output: 'echoed' }],
};
let root: Node;
let site: Node;
const agents = new Map<string, FlotillaProcess & { lines: string[] }>();
const tokens = new Map<string, string>();

const siteOptions = () => ({ dataDir: join(dir.path, 'site') });
const detail = (id: string) => jsonBody(fetch(`${root.api}/api/v1/devices/${encodeURIComponent(id)}`));
const post = (api: string, body: unknown) => fetch(`${api}/api/v1/desired`, { method: 'POST', body: JSON.stringify(body) });

function startAgent(id: string, dataDir = join(dir.path, id)) {
  const agent = spawnAgent(site.mqttUrl, id, tokens.get(id)!, dataDir);
  agents.set(id, agent);
  return agent;
}

beforeAll(async () => {
  root = await startNode('root');
  site = await startNode('site', root, siteOptions());
  await site.coordinator.federation.bridge!.whenUp();
  const siteApi = new ApiClient(site.api);
  for (const id of ['s1', 's2']) tokens.set(id, (await siteApi.enroll(id)).token);
  await Promise.all(['s1', 's2'].map((id) => startAgent(id).waitFor('joined')));
  await eventually(() => root.coordinator.directory.below.devices.size === 2, 10_000, 'site devices at the root');
}, 30_000);
afterAll(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await site?.stop();
  await root?.stop();
  dir.cleanup();
});

describe('desired state from the root to agents in a site cluster', () => {
  let revision = 0;

  it('step push + apply: agents fetch the module through the cache chain and run the tree', async () => {
    const wasmPath = join(dir.path, 'crashy.wasm');
    writeFileSync(wasmPath, crashy);
    const pushed = await flotilla('step', 'push', wasmPath, '--name', 'crashy', '--version', '1', '--api', root.api);
    expect(pushed.stdout).toContain(`crashy@1 sha256 ${sha256Hex(crashy)}`);

    const specPath = join(dir.path, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const applied = await flotilla('apply', specPath, '--cluster', 'root/site', '--api', root.api);
    expect(applied).toMatchObject({ code: 0 });
    expect(applied.stdout.trim()).toMatch(/^site\/s1 {2}revision \d+\nsite\/s2 {2}revision \d+$/);
    revision = Number(/revision (\d+)/.exec(applied.stdout)![1]);

    for (const id of ['site/s1', 'site/s2']) {
      await eventually(async () => (await detail(id)).events?.some((e: { type: string; data: { child?: string } }) => e.type === 'child_started' && e.data.child === 'echo'), 15_000, `child_started of ${id} at the root`);
    }
    // The module crossed the root→site link once, then site served both agents from its cache.
    const [atRoot, atSite] = [await scrape(root.api), await scrape(site.api)];
    expect(atRoot.value('flotilla_modules_served_total', { to: 'child' })).toBe(1);
    expect(atRoot.value('flotilla_modules_fetched_upstream_total')).toBe(0);
    expect(atSite.value('flotilla_modules_fetched_upstream_total')).toBe(1);
    expect(atSite.value('flotilla_modules_served_total', { to: 'device' })).toBe(2);
    expect(atSite.value('flotilla_modules_upstream_bytes_total')).toBe(crashy.length);

    const stored = await new ApiClient(root.api).desired('site/s1');
    expect(stored).toMatchObject({ revision, spec, modules: { 'crashy@1': { sha256: sha256Hex(crashy), size: crashy.length } } });
  });

  it('a restarted site coordinator re-publishes the stored desired states; agents keep running, revisions never regress', async () => {
    const ports = { mqttPort: site.coordinator.mqttPort, httpPort: site.coordinator.httpPort };
    await site.stop();
    site = await startNode('site', root, { ...siteOptions(), ...ports });
    expect(site.lines.some((l) => l.includes('re-published the desired state of 2 device(s)'))).toBe(true);

    // An agent that lost its disk can only learn its tree from the re-published retained message.
    await agents.get('s2')!.stop();
    const fresh = startAgent('s2', join(dir.path, 's2-fresh'));
    await eventually(() => fresh.lines.some((l) => l.includes(`running desired revision ${revision} `)), 20_000, 's2 runs the re-published tree');

    // s1 kept its tree across the coordinator restart: it never applied the re-published (same) revision again.
    await eventually(async () => (await new ApiClient(site.api).devices()).devices.find((d) => d.id === 's1')?.online, 20_000, 's1 back online');
    expect(agents.get('s1')!.lines.filter((l) => l.includes('running desired revision')).length).toBe(1);
    const s1 = await jsonBody(fetch(`${site.api}/api/v1/devices/s1`));
    expect(s1.tree).toEqual([expect.objectContaining({ path: 'root/echo', state: 'running', restarts: 0 })]);

    // The next change gets a higher revision than the stored one.
    const next = await jsonBody(post(root.api, { target: { device: 'site/s1' }, spec: { ...spec, intensity: 3 } }));
    expect(next.acks['site/s1'].result.revision).toBeGreaterThan(revision);
    await eventually(() => agents.get('s1')!.lines.some((l) => l.includes(`running desired revision ${next.acks['site/s1'].result.revision} `)), 15_000, 's1 applies the next revision');
  }, 60_000);

  it('bad inputs: unknown step, invalid spec, unknown device or cluster', async () => {
    const error = async (res: Response) => [res.status, (await jsonBody(res)).error.message];
    expect(await error(await post(root.api, { target: { all: true }, spec: { id: 'root', children: [{ id: 'x', step: 'ghost@1' }, { id: 'y', step: 'crashy@1' }] } }))).toEqual([
      400,
      expect.stringContaining('unknown step reference ghost@1'),
    ]);
    expect(await error(await post(root.api, { target: { all: true }, spec: { id: 'root', strategy: 'one_for_most', children: [] } }))).toEqual([400, expect.stringMatching(/^supervisor spec: strategy/)]);
    expect(await error(await post(root.api, { target: { all: true } }))).toEqual([400, expect.stringContaining('spec')]);
    expect(await error(await post(root.api, { target: { device: 'site/nobody' }, spec }))).toEqual([404, 'no device "site/nobody" below cluster root']);
    expect(await error(await post(root.api, { target: { cluster: 'root/nowhere' }, spec }))).toEqual([404, 'no cluster "root/nowhere" below cluster root']);
    expect(await error(await post(root.api, { target: { subtree: 'eu' }, spec }))).toEqual([404, expect.stringContaining('does not start with')]);
    expect((await fetch(`${root.api}/api/v1/devices/site%2Fnobody/desired`)).status).toBe(404);
    const cli = await flotilla('apply', join(dir.path, 'spec.json'), '--device', 'x', '--all', '--api', root.api);
    expect(cli).toMatchObject({ code: 2, stderr: expect.stringContaining('exactly one of --device, --cluster, --subtree, --all') });
  });
});
