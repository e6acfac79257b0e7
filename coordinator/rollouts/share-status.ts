import type { RolloutState, RolloutStatus, ShareOrder, ShareReport, WaveCounts } from '../../shared/rollout.js';

/**
 * A share this cluster carries out for a rollout owned above, as this cluster's API shows it (read-only, marked
 * `share: true`): its own devices and waves. The share knows only its owner's orders, not the rollout's outcome: an
 * ended share reads `succeeded` when every device it put in a wave is healthy, else `halted`. Pure.
 */
export function shareStatus(rollout: string, mode: ShareOrder['mode'], report: ShareReport): RolloutStatus {
  const waves = report.waves.map((w, index) => ({ index, state: waveState(w), devices: w.assigned, passed: w.healthy, failed: w.failed + w.rolled_back }));
  const inWave = report.devices.filter((d) => d.wave !== undefined);
  const clean = inWave.every((d) => d.state === 'healthy') && !report.devices.some((d) => d.state === 'pending');
  const state: RolloutState = mode === 'run' ? 'running' : mode === 'hold' ? 'paused' : clean ? 'succeeded' : 'halted';
  const owner = mode === 'end' ? 'ended by its owner above' : mode === 'hold' ? 'held by its owner above (paused, or outside a window)' : `wave ${report.wave}, ordered by its owner above`;
  return { id: rollout, state, reason: `this cluster's share: ${owner}`, waves, devices: report.devices, share: true };
}

function waveState(w: WaveCounts): RolloutStatus['waves'][number]['state'] {
  if (w.failed + w.rolled_back > 0) return 'failed';
  return w.pending + w.updating > 0 ? 'running' : 'passed';
}
