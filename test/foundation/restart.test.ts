import { join } from 'node:path';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnFlotilla } from '../../cli/processes.js';
import { ApiClient } from '../../cli/api-client.js';
import { eventually, spawnAgent, tempDir } from '../helpers/cluster.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

function startCoordinatorProcess(dataDir: string) {
  return spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dataDir, '--cluster', 'restart'], { stderr: 'ignore' });
}

describe('coordinator restart', () => {
  it('keeps the registry: devices, tokens and last known facts survive, and agents rejoin', async () => {
    const data = join(dir.path, 'coord');
    let coord = startCoordinatorProcess(data);
    let ports = (await coord.waitFor('listening')) as { mqtt: number; http: number };
    let api = new ApiClient(`http://127.0.0.1:${ports.http}`);
    const { token } = await api.enroll('r-1');
    await api.enroll('r-2');
    const agent = spawnAgent(`mqtt://127.0.0.1:${ports.mqtt}`, 'r-1', token, join(dir.path, 'r-1'));
    await agent.waitFor('joined');
    await eventually(async () => (await api.devices()).devices.find((d) => d.id === 'r-1' && d.arch), 10_000, 'facts');
    await agent.stop();
    expect(await coord.stop()).toBe(0);

    // The registry on disk is a plain JSON file with hashed tokens only.
    const onDisk = JSON.parse(readFileSync(join(data, 'registry.json'), 'utf8'));
    expect(Object.keys(onDisk.devices).sort()).toEqual(['r-1', 'r-2']);
    expect(JSON.stringify(onDisk)).not.toContain(token);

    coord = startCoordinatorProcess(data);
    ports = (await coord.waitFor('listening')) as { mqtt: number; http: number };
    api = new ApiClient(`http://127.0.0.1:${ports.http}`);
    const before = (await api.devices()).devices;
    expect(before.map((d) => d.id)).toEqual(['r-1', 'r-2']);
    expect(before[0]).toMatchObject({ online: false, lastSeen: expect.any(Number) });
    // The same token still works after the restart.
    const again = spawnAgent(`mqtt://127.0.0.1:${ports.mqtt}`, 'r-1', token, join(dir.path, 'r-1'));
    await again.waitFor('joined');
    await eventually(async () => (await api.devices()).devices.find((d) => d.id === 'r-1' && d.online), 10_000, 'r-1 online again');
    await again.stop();
    await coord.stop();
  });

  it('moves a corrupt registry aside with a log line naming its new path, and starts empty', async () => {
    const data = join(dir.path, 'corrupt');
    const coord = startCoordinatorProcess(data);
    await coord.waitFor('listening');
    await coord.stop();
    const bad = '{"version":1,"devices":{"x":{"id":"x"}}}';
    writeFileSync(join(data, 'registry.json'), bad);
    const lines: string[] = [];
    const again = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', data], { stderr: (l) => lines.push(l) });
    const ports = (await again.waitFor('listening')) as { http: number };
    const aside = readdirSync(data).find((f) => f.startsWith('registry.json.corrupt-'));
    expect(aside).toBeDefined();
    expect(readFileSync(join(data, aside!), 'utf8')).toBe(bad);
    expect(lines.join('\n')).toContain(`registry.json is not a valid device registry (devices.x.tokenHash: `);
    expect(lines.join('\n')).toContain(`moved it to ${join(data, aside!)} and starting with an empty one`);
    expect((await new ApiClient(`http://127.0.0.1:${ports.http}`).devices()).devices).toEqual([]);
    await again.stop();
  });
});
