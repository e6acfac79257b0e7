import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { spawnFlotilla } from '../../cli/processes.js';
import { DeviceList } from '../../shared/api.js';
import { eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { startNode, type Node } from '../federation/tree.js';

/** Run the real CLI; its exit code and output lines. */
async function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const p = spawnFlotilla(args, { stderr: (l) => err.push(l) });
  p.child.stdout!.on('data', (d) => out.push(String(d)));
  const code = await p.exited;
  return { code, out: out.join(''), err: err.join('\n') };
}

async function patch(api: string, id: string, body: string) {
  const res = await fetch(`${api}/api/v1/devices/${encodeURIComponent(id)}`, { method: 'PATCH', body });
  return { status: res.status, body: await res.json() };
}

const dataDir = tempDir();
let root: Node;
let paris: Node;
let parisDir: string;

beforeAll(async () => {
  root = await startNode('root');
  parisDir = `${dataDir.path}/paris`;
  paris = await startNode('paris', root, { dataDir: parisDir });
});
afterAll(async () => {
  await paris.stop();
  await root.stop();
  dataDir.cleanup();
});

describe('labels: set at enrolment and by `flotilla label`, stored at the device\'s own coordinator, carried up', () => {
  it('enrol with --label, change with `flotilla label ID k=v k2-`, and the root sees them in its device list', async () => {
    const first = await cli(['enroll', 'p1', '--label', 'site=paris', '--label', 'tier=prod', '--api', paris.api]);
    expect(first.code).toBe(0);
    expect(first.out.trim()).toMatch(/^\S{20,}$/);
    await new ApiClient(paris.api).enroll('p2', { site: 'paris', tier: 'lab', 'canary-exempt': '' });
    const changed = await cli(['label', 'p2', 'tier-', 'example.com/rack=r7', '--api', paris.api]);
    expect(changed).toMatchObject({ code: 0, out: 'canary-exempt=,example.com/rack=r7,site=paris\n' });
    const atRoot = await eventually(async () => {
      const { devices } = await new ApiClient(root.api).devices();
      const p2 = devices.find((d) => d.id === 'paris/p2');
      return p2 && Object.keys(p2.labels).length === 3 && devices;
    });
    expect(atRoot.find((d) => d.id === 'paris/p1')?.labels).toEqual({ site: 'paris', tier: 'prod' });
  });

  it('`flotilla devices --select` filters by labels and built-ins, at the root too', async () => {
    const ids = async (select: string) => {
      const r = await cli(['devices', '--api', root.api, '--select', select, '--json']);
      expect(r.err).toBe('');
      return DeviceList.shape.devices.parse(JSON.parse(r.out)).map((d) => d.id);
    };
    expect(await ids('site=paris,tier!=prod')).toEqual(['paris/p2']);
    expect(await ids('!canary-exempt')).toEqual(['paris/p1']);
    expect(await ids('cluster=root/paris/**,tier in (prod,lab)')).toEqual(['paris/p1']);
    const table = await cli(['devices', '--api', paris.api, '--select', 'example.com/rack']);
    expect(table.out).toMatch(/LABELS\n.*p2 .*canary-exempt=,example.com\/rack=r7,site=paris$/ms);
    const bad = await cli(['devices', '--api', root.api, '--select', 'site in paris']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('flotilla devices: --select: selector "site in paris": column 9: expected "(" after "in", got "paris"');
  });

  it('bad labels are refused naming the label, unknown devices with a 404', async () => {
    expect(await patch(paris.api, 'p1', '{"labels":{"si te":"x"}}')).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('label key "si te"') } } });
    expect(await patch(paris.api, 'p1', '{"labels":{"arch":"x"}}')).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('reserved') } } });
    expect(await patch(paris.api, 'ghost', '{"labels":{"a":"b"}}')).toMatchObject({ status: 404 });
  });

  it('a change at the root for a device below is forwarded to its own coordinator, answered after its commit', async () => {
    expect(await patch(root.api, 'paris/p1', '{"labels":{"rack":"r9"}}')).toEqual({ status: 200, body: { id: 'paris/p1', labels: { rack: 'r9', site: 'paris', tier: 'prod' } } });
    // Acknowledged means stored at the owner: its registry has it at once.
    expect((await new ApiClient(paris.api).devices()).devices.find((d) => d.id === 'p1')?.labels).toEqual({ rack: 'r9', site: 'paris', tier: 'prod' });
    const viaCli = await cli(['label', 'paris/p1', 'rack-', '--api', root.api]);
    expect(viaCli).toMatchObject({ code: 0, out: 'site=paris,tier=prod\n' });
    await eventually(async () => (await new ApiClient(root.api).devices()).devices.find((d) => d.id === 'paris/p1')?.labels.rack === undefined, 10_000, 'the root to see the change');
    expect(await patch(root.api, 'paris/p1', '{"labels":{"si te":"x"}}')).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining('label key "si te"') } } });
    expect(await patch(root.api, 'paris/ghost', '{"labels":{"a":"b"}}')).toMatchObject({ status: 404 });
    const enrolBad = await cli(['enroll', 'p3', '--label', 'site', '--api', paris.api]);
    expect(enrolBad).toMatchObject({ code: 2, err: 'flotilla enroll: --label: label "site": expected KEY=VALUE' });
  });

  it('labels survive a restart of the device\'s coordinator', async () => {
    await paris.stop();
    paris = await startCoordinator({ cluster: 'paris', dataDir: parisDir });
    const { devices } = await new ApiClient(paris.api).devices();
    expect(devices.find((d) => d.id === 'p2')?.labels).toEqual({ 'canary-exempt': '', 'example.com/rack': 'r7', site: 'paris' });
  });
});
