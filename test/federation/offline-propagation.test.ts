import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { spawnFlotilla } from '../../cli/processes.js';
import { eventually } from '../helpers/cluster.js';
import { startNode, tempDir, type Node } from './tree.js';

// A killed agent turns offline at the root of the tree. Its health interval is 60 s (the longest), so the staleness
// sweep (two missed reports: over 120 s) cannot be what notices within the 60 s this test waits: only the agent's
// last will, fired by its cluster's broker when the connection drops, explains it.

let root: Node, site: Node;
const dir = tempDir();

beforeAll(async () => {
  root = await startNode('root');
  site = await startNode('site', root);
});
afterAll(async () => {
  await site.stop();
  await root.stop();
  dir.cleanup();
});

const atRoot = async (id: string) => (await new ApiClient(root.api).devices()).devices.find((d) => d.id === id);

describe('offline propagation up the tree', () => {
  it('a SIGKILLed agent with a 60 s health interval is offline at the root, through its last will', async () => {
    const { token } = await new ApiClient(site.api).enroll('quiet-1');
    const agent = spawnFlotilla(['agent', '--coordinator', site.mqttUrl, '--id', 'quiet-1', `--token=${token}`, '--data-dir', join(dir.path, 'quiet-1'), '--health-interval', '60'], { stderr: 'ignore' });
    try {
      await agent.waitFor('joined');
      await eventually(async () => (await atRoot('site/quiet-1'))?.online, 20_000, 'site/quiet-1 online at the root');
      agent.child.kill('SIGKILL');
      await agent.exited;
      const device = await eventually(async () => {
        const d = await atRoot('site/quiet-1');
        return d && !d.online && d;
      }, 60_000, 'site/quiet-1 offline at the root (well before the sweep could)');
      expect(device.state).toBe('offline');
      expect(site.coordinator.directory.live.get('quiet-1')?.online).toBe(false);
    } finally {
      await agent.stop();
    }
  }, 120_000);
});
