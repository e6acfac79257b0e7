import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../cli/api-client.js';
import { spawnFlotilla, type FlotillaProcess } from '../cli/processes.js';
import { eventually } from './helpers/cluster.js';
import { runLine, shellLines } from './docs/shell-blocks.js';

let demo: FlotillaProcess | undefined;
const stderr: string[] = [];
afterAll(async () => {
  await demo?.stop();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('flotilla demo', () => {
  it('starts a root, two clusters with two agents each running the sample step tree, and stops cleanly on Ctrl-C', async () => {
    const startedAt = Date.now();
    demo = spawnFlotilla(['demo'], { stderr: (l) => stderr.push(l) });
    const ready = (await demo.waitFor('demo-ready', 40_000)) as { dashboard: string; api: string; apiToken: string; devices: string[]; pids: number[] };
    console.log(`flotilla demo ready in ${Date.now() - startedAt} ms`);
    expect(ready.devices).toEqual(['berlin/berlin-1', 'berlin/berlin-2', 'paris/paris-1', 'paris/paris-2']);
    expect(ready.pids).toHaveLength(7);

    // The API needs the printed token; the dashboard is served at the printed address.
    expect((await fetch(`${ready.api}/api/v1/devices`)).status).toBe(401);
    expect((await fetch(ready.dashboard)).headers.get('content-type')).toMatch(/text\/html/);
    const api = new ApiClient(ready.api, ready.apiToken);
    const { devices } = await api.devices();
    expect(devices.map((d) => [d.id, d.cluster, d.online, d.children])).toEqual(
      ready.devices.map((id) => [id, `root/${id.split('/')[0]}`, true, { running: 3, total: 3 }]),
    );

    // Data flows through every agent's pipeline: sensor (cron) -> average -> alarm.
    for (const id of ready.devices) {
      await eventually(async () => {
        const res = await fetch(`${ready.api}/api/v1/devices/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${ready.apiToken}` } });
        const { tree } = (await res.json()) as { tree: { path: string; state: string; messagesIn?: number }[] };
        return tree.find((c) => c.path === 'pipeline/alarm' && c.state === 'running' && (c.messagesIn ?? 0) > 0);
      }, 20_000, `messages through the pipeline of ${id}`);
    }
    expect((await api.desired('paris/paris-1')).spec).toMatchObject({ id: 'pipeline', strategy: 'rest_for_one' });

    // README.md's "While it runs" commands, as written but for their PORT and TOKEN placeholders.
    const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
    const block = /While it runs, use the commands it prints, e\.g\.\n\n```sh\n([\s\S]*?)```/.exec(readme)![1];
    const lines = shellLines(block.replaceAll('http://127.0.0.1:PORT', ready.api).replaceAll('TOKEN', ready.apiToken));
    expect(lines.map((l) => l.command.split(' ').slice(0, 3).join(' '))).toEqual(['npx flotilla devices', 'npx flotilla logs', 'npx flotilla rollout', 'npx flotilla rollout']);
    const outputs: string[] = [];
    for (const { command } of lines) {
      const line = runLine(command, { cwd: join(import.meta.dirname, '..'), env: process.env });
      expect(await line.exited, `${command}: ${line.stderr.join('\n')}`).toBe(0);
      outputs.push(line.stdout.join('\n'));
    }
    // The rollout it started goes canary -> 50% -> 100% across both clusters and every device runs the new version.
    const rolloutId = outputs[2].trim();
    expect(outputs[3]).toContain(rolloutId);
    const done = await eventually(async () => {
      const s = await api.rollout(rolloutId);
      return s.state !== 'running' && s;
    }, 60_000, 'the README rollout to end');
    expect(done).toMatchObject({ state: 'succeeded' });
    expect(done.waves.map((w) => w.devices)).toEqual([1, 1, 2]);
    for (const id of ready.devices) expect(JSON.stringify((await api.desired(id)).spec)).toContain('moving-average@1.1.0');

    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    await eventually(() => ready.pids.every((pid) => !alive(pid)), 5000, 'no process of the demo left');
  }, 150_000);
});
