import { describe, expect, it } from 'vitest';
import { shareStatus } from '../../coordinator/rollouts/share-status.js';
import type { ShareReport, WaveCounts } from '../../shared/rollout.js';

const counts = (c: Partial<WaveCounts>): WaveCounts => ({ assigned: 0, pending: 0, updating: 0, healthy: 0, failed: 0, rolled_back: 0, skipped: 0, ...c });

describe('a share as its cluster lists it', () => {
  it('follows the owner: running, held, then ended as succeeded or halted', () => {
    const report: ShareReport = {
      wave: 1,
      eligible: 2,
      waves: [counts({ assigned: 1, healthy: 1 }), counts({ assigned: 1, updating: 1 })],
      devices: [
        { id: 'a1', state: 'healthy', wave: 0 },
        { id: 'a2', state: 'updating', wave: 1 },
      ],
    };
    expect(shareStatus('r-1', 'run', report)).toMatchObject({
      id: 'r-1',
      state: 'running',
      share: true,
      waves: [
        { index: 0, state: 'passed', devices: 1, passed: 1, failed: 0 },
        { index: 1, state: 'running', devices: 1, passed: 0, failed: 0 },
      ],
    });
    expect(shareStatus('r-1', 'hold', report).state).toBe('paused');
    const healthy = { ...report, waves: [report.waves[0], counts({ assigned: 1, healthy: 1 })], devices: report.devices.map((d) => ({ ...d, state: 'healthy' as const })) };
    expect(shareStatus('r-1', 'end', healthy).state).toBe('succeeded');
    const failed = { ...report, waves: [report.waves[0], counts({ assigned: 1, rolled_back: 1 })], devices: [report.devices[0], { id: 'a2', state: 'rolled_back' as const, wave: 1 }] };
    expect(shareStatus('r-1', 'end', failed)).toMatchObject({ state: 'halted', waves: [{ state: 'passed' }, { state: 'failed', failed: 1 }] });
  });
});
