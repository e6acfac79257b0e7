import type { AgentPin, AgentRelease } from '../../shared/agent-release.js';
import type { DeviceSummary } from '../../shared/api.js';
import type { LiveDevice } from '../fleet/fleet-state.js';
import type { Observation } from '../rollouts/share-core.js';

/**
 * The agent-release change kind of a rollout (`{"change": {"agent": VERSION}}`, docs/rollouts.md): each device gets
 * the release of its own target pinned in its desired state, and passes its gate once it reports that agentVersion,
 * online and with its tree running. Pure: the rollout's change table (coordinator/rollouts/change.ts) calls these.
 */

/** Why a device cannot take agent `version`, or nothing when it can. */
export function agentSkip(d: Pick<DeviceSummary, 'target' | 'agentVersion'>, version: string, releases: readonly AgentRelease[]): string | undefined {
  if (d.agentVersion === version) return `it already runs agent ${version}`;
  if (!d.target) return 'its target is not known yet (no health report)';
  if (!releases.some((r) => r.target === d.target)) return `no release ${version} for its target ${d.target}`;
  return undefined;
}

/** The pin for a device of `target`: its release, where to download it, and the trial deadline. */
export function agentPin(target: string | undefined, releases: readonly AgentRelease[], httpPort: number, deadlineS: number): AgentPin | undefined {
  const release = releases.find((r) => r.target === target);
  return release && { release, httpPort, deadlineS: Math.min(3600, Math.max(5, Math.round(deadlineS))) };
}

/**
 * What the share core gates on, for an agent change: the device "runs" its new revision once it reports it on the
 * pinned agentVersion; the update's own failure or the launcher's rollback are the revision's failure or rollback.
 */
export function agentObservation(live: LiveDevice | undefined, version: string): Observation {
  const health = live?.health;
  const update = health?.agentUpdate?.version === version ? health.agentUpdate : undefined;
  const workers = (health?.children ?? []).filter((c) => c.kind === 'worker');
  return {
    // Until it reports the new version the device is between its old and its new agent: its restart into the trial
    // (and back, if the launcher rolls it back) is not "offline during its soak"; health is QoS 0, so its last report
    // before the restart may not say so. A device that never comes back fails the gate's apply timeout.
    online: (live?.online ?? false) || health?.agentVersion !== version,
    revision: health?.agentVersion === version ? (health.revision ?? null) : null,
    // A device without steps is healthy on its agent alone.
    allRunning: workers.every((c) => c.state === 'running'),
    restartsTotal: health?.restartsTotal ?? 0,
    failed: update?.state === 'failed' ? { revision: update.revision, reason: update.reason ?? 'the update failed' } : undefined,
    rolledBack: update?.state === 'rolled_back' ? { revision: update.revision, reason: update.reason ?? 'rolled back by its launcher' } : undefined,
  };
}
