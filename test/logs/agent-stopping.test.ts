import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { eventually, memoryLogger, tempDir } from '../helpers/cluster.js';

describe('an agent that is stopping', () => {
  it('logs link errors while it runs, and none once it is stopping', async () => {
    const dir = tempDir();
    const log = memoryLogger();
    // Port 1 on 127.0.0.1: every connection attempt is refused at once.
    const agent = await Agent.open({ coordinatorUrl: 'mqtt://127.0.0.1:1', id: 'quiet', token: 't', dataDir: join(dir.path, 'a'), healthIntervalS: 60, target: 't', log });
    let errors = 0;
    agent.client.on('error', () => errors++);
    try {
      await eventually(() => log.lines.some((l) => l.includes('coordinator link: connect ECONNREFUSED')), 10_000, 'a link error logged');
      agent.beginStop();
      const before = log.lines.length;
      const seen = errors;
      // The client keeps trying until stop(); the next refusal after beginStop is heard but not logged.
      await eventually(() => errors > seen, 20_000, 'another refused attempt');
      expect(log.lines.slice(before).filter((l) => l.includes('coordinator link'))).toEqual([]);
    } finally {
      await agent.stop();
      dir.cleanup();
    }
  });
});
