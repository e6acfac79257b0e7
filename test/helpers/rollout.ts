import type { RolloutStatus } from '../../shared/rollout.js';
import { eventually } from './cluster.js';

/** Re-read a rollout's status until `done` holds; `read` may answer undefined (its coordinator is down: read again). */
export function rolloutUntil(read: () => Promise<RolloutStatus | undefined>, done: (s: RolloutStatus) => boolean, timeoutMs: number, what: string): Promise<RolloutStatus> {
  return eventually(async () => {
    const s = await read();
    return s !== undefined && done(s) && s;
  }, timeoutMs, what);
}
