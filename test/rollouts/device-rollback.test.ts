import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { resolveSpec } from '../../coordinator/desired/index.js';
import { wat } from '../runtime/harness.js';
import { eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';

// Device-local rollback over a real agent process: a guarded revision whose root supervisor gives up (tag@3
// traps on every tick of its timer input) is reverted by the agent itself while its coordinator is down.

const dir = tempDir();
afterAll(() => dir.cleanup());

const tree = (step: string) => ({ id: 'root', intensity: 1, period: 10, children: [{ id: 'ticker', step, input: { cron: '* * * * * *' }, output: 'ticks' }] });

describe('device-local rollback', () => {
  it('a revision whose tree gives up within its window is rolled back by the agent while its coordinator is unreachable', async () => {
    const dataDir = join(dir.path, 'coordinator');
    let cluster = await startCoordinator({ dataDir });
    const mqttPort = cluster.coordinator.mqttPort;
    const api = new ApiClient(cluster.api);
    await api.pushStep({ name: 'tag', version: '1', module: Buffer.from(wat('tag')).toString('base64') });
    await api.pushStep({ name: 'tag', version: '3', module: Buffer.from(wat('trap')).toString('base64') });
    const { token } = await api.enroll('d-1');
    const agentDir = join(dir.path, 'd-1');
    const agent = spawnAgent(cluster.mqttUrl, 'd-1', token, agentDir);
    try {
      await agent.waitFor('joined');
      const live = () => cluster.coordinator.directory.live.get('d-1');
      const runs = (step: string) => live()?.health?.children?.some((c) => c.step === step && c.state === 'running');
      await api.applyDesired({ device: 'd-1' }, tree('tag@1'));
      await eventually(() => runs('tag@1'), 30_000, 'tag@1 running');
      const good = (await api.desired('d-1')).revision;

      // The bad revision, guarded as a rollout sends it; the coordinator goes away as soon as the agent runs it.
      const bad = tree('tag@3');
      const { revisions } = await cluster.coordinator.desired.apply(['d-1'], bad, resolveSpec(bad, (ref) => cluster.coordinator.steps.resolve(ref)), { windowMs: 60_000 });
      await eventually(() => live()?.health?.children?.some((c) => c.step === 'tag@3'), 30_000, 'tag@3 started');
      await cluster.coordinator.stop();

      const state = () => JSON.parse(readFileSync(join(agentDir, 'agent.json'), 'utf8')) as { desired: { revision: number } | null; rolledBack: number | null };
      await eventually(() => state().rolledBack === revisions['d-1'], 30_000, 'the agent rolling back by itself');
      // The tree it went back to is what it runs after a reboot, too.
      await eventually(() => state().desired?.revision === good, 30_000, 'the previous desired state stored again');
      expect(agent.lines.some((l) => l.includes(`rolling back revision ${revisions['d-1']} to ${good} by itself: its root supervisor gave up`))).toBe(true);

      // Back online: its health says what it rolled back, and the retained bad revision is not run again.
      cluster = await startCoordinator({ dataDir, mqttPort });
      const health = await eventually(() => {
        const h = cluster.coordinator.directory.live.get('d-1')?.health;
        return h?.rolledBack === revisions['d-1'] && h;
      }, 30_000, 'health reporting the rollback');
      expect(health.revision).toBe(good);
      expect(health.children.map((c) => [c.step, c.state])).toEqual([['tag@1', 'running']]);
    } finally {
      await agent.stop();
      await cluster.coordinator.stop().catch(() => {});
    }
  }, 120_000);
});
