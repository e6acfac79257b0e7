import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';

// A coordinator that dies while its agent fetches a module: the request it took is lost with it. A real agent
// process asks again once its link is back and applies the new tree, instead of waiting out its 30 s fetch
// timeout and failing the desired state.

const dir = tempDir();
afterAll(() => dir.cleanup());

const tree = (step: string) => ({ id: 'root', intensity: 1, period: 10, children: [{ id: 'tagger', step, input: 'in', output: 'out' }] });
const tagged = (tag: number) => wat('tag', (t) => t.replace('(i32.const 65)) ;; TAG', `(i32.const ${tag})) ;; TAG`));

describe('module fetch across a coordinator restart', () => {
  it('an agent whose coordinator dies mid-fetch fetches again from the restarted one and runs the new tree', async () => {
    const dataDir = join(dir.path, 'coordinator');
    let cluster = await startCoordinator({ dataDir });
    const mqttPort = cluster.coordinator.mqttPort;
    const api = new ApiClient(cluster.api);
    const v2 = tagged(66);
    await api.pushStep({ name: 'tag', version: '1', module: Buffer.from(tagged(65)).toString('base64') });
    await api.pushStep({ name: 'tag', version: '2', module: Buffer.from(v2).toString('base64') });
    const { token } = await api.enroll('d-1');
    const agent = spawnAgent(cluster.mqttUrl, 'd-1', token, join(dir.path, 'd-1'));
    try {
      await agent.waitFor('joined');
      const runs = (step: string) => cluster.coordinator.directory.live.get('d-1')?.health?.children?.some((c) => c.step === step && c.state === 'running');
      await api.applyDesired({ device: 'd-1' }, tree('tag@1'));
      await eventually(() => runs('tag@1'), 30_000, 'tag@1 running');

      // The coordinator takes the request for tag@2 and dies before answering it.
      const modules = cluster.coordinator.modules;
      const serve = modules.module.bind(modules);
      const asked = new Promise<void>((resolve) => {
        modules.module = (sha256) => {
          if (sha256 !== sha256Hex(v2)) return serve(sha256);
          resolve();
          return new Promise(() => {});
        };
      });
      await api.applyDesired({ device: 'd-1' }, tree('tag@2'));
      await asked;
      await cluster.coordinator.stop();
      cluster = await startCoordinator({ dataDir, mqttPort });

      // Well within the agent's 30 s per-request timeout: only asking again on reconnect gets here in time.
      await eventually(() => runs('tag@2'), 20_000, 'tag@2 running after the restart');
      expect(agent.lines.some((l) => l.includes('not applied'))).toBe(false);
    } finally {
      await agent.stop();
      await cluster.coordinator.stop().catch(() => {});
    }
  }, 120_000);
});
