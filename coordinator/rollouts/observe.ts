import type { LiveDevice } from '../fleet/fleet-state.js';
import type { Observation } from './share-core.js';

/**
 * What a share core needs to know of one own device, from what the directory holds: presence, the revision its
 * health says it runs, whether every worker runs, its restarts, the last `desired_failed` event, and the revision it
 * rolled back by itself (event, or health).
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
    // The event carries the reason; health carries the fact even when the event was lost.
    rolledBack: lastRevisionEvent(live, 'rolled_back') ?? (health?.rolledBack !== undefined ? { revision: health.rolledBack, reason: 'reported in its health' } : undefined),
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
