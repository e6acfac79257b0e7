import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { helpText, loadConfig, type CommandSpec } from '../shared/config.js';
import { untilSignal } from '../shared/signals.js';
import { ApiClient } from './api-client.js';
import type { Command } from './command.js';
import { spawnFlotilla, type FlotillaProcess } from './processes.js';

const spec: CommandSpec = {
  command: 'demo',
  summary: 'run a local fleet on 127.0.0.1: a coordinator and several agents as real processes',
  options: [
    { name: 'agents', schema: z.coerce.number().int().min(1).max(50), default: 3, description: 'agents to start' },
    { name: 'data-dir', schema: z.string().min(1), description: 'keep state here instead of a temporary directory' },
  ],
};

export const demoCommand: Command = {
  name: 'demo',
  summary: spec.summary,
  async run(argv) {
    const loaded = loadConfig(spec, argv);
    if (loaded.help) return console.log(helpText(spec)), 0;
    const v = loaded.values as { agents: number; 'data-dir'?: string };
    const dir = v['data-dir'] ?? mkdtempSync(join(tmpdir(), 'flotilla-demo-'));
    const apiToken = randomBytes(12).toString('base64url');
    const procs: FlotillaProcess[] = [];
    const stopAll = () => Promise.all(procs.reverse().map((p) => p.stop()));
    try {
      const coordinator = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', join(dir, 'coordinator'), '--cluster', 'demo', '--api-token', apiToken]);
      procs.push(coordinator);
      const { mqtt, http } = (await coordinator.waitFor('listening')) as { mqtt: number; http: number };
      const api = `http://127.0.0.1:${http}`;
      const client = new ApiClient(api, apiToken);
      for (let i = 1; i <= v.agents; i++) {
        const id = `demo-${i}`;
        const { token } = await client.enroll(id);
        const agent = spawnFlotilla(['agent', '--coordinator', `mqtt://127.0.0.1:${mqtt}`, '--id', id, '--token', token, '--data-dir', join(dir, id), '--health-interval', '5']);
        procs.push(agent);
      }
      await Promise.all(procs.slice(1).map((p) => p.waitFor('joined')));
      console.log(
        [
          '',
          `Flotilla demo is running (state in ${dir}).`,
          `  HTTP API:  ${api}/api/v1/devices`,
          `  API token: ${apiToken}`,
          `  Devices:   npx flotilla devices --api ${api} --api-token ${apiToken}`,
          '',
          'Press Ctrl-C to stop.',
        ].join('\n'),
      );
      await Promise.race([untilSignal(), ...procs.map((p) => p.exited)]);
    } finally {
      await stopAll();
      if (!v['data-dir']) rmSync(dir, { recursive: true, force: true });
    }
    return 0;
  },
};
