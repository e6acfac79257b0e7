import type { LiveDevice } from '../fleet/fleet-state.js';
import type { Observation } from './share-core.js';

/**
 * What a share core needs to know of one own device, from what the directory holds: presence, the revision its
 * health says it runs, whether every worker runs, its restarts, and the last `desired_failed` / `rolled_back` events.
 */
export function observationOf(live: LiveDevice | undefined): Observation {
  const health = live?.health;
  const workers = (health?.children ?? []).filter((c) => c.kind === 'worker');
  return {
    online: live?.online ?? false,
    revision: health?.revision ?? null,
    allRunning: workers.length > 0 && workers.every((c) => c.state === 'running'),
    restartsTotal: health?.restartsTotal ?? 0,
    failed: lastRevisionEvent(live, 'desired_failed'),
    rolledBack: lastRevisionEvent(live, 'rolled_back'),
  };
}

function lastRevisionEvent(live: LiveDevice | undefined, type: string): { revision: number; reason: string } | undefined {
  const events = live?.events ?? [];
  for (let i = events.length - 1; i >= 0; i--) {
    const { type: t, data } = events[i];
    if (t !== type || typeof data.revision !== 'number') continue;
    return { revision: data.revision, reason: typeof data.reason === 'string' ? data.reason : type };
  }
  return undefined;
}
