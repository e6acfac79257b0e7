import { releaseSignatureProblem, type AgentPin, type AgentUpdateHealth } from '../../shared/agent-release.js';
import type { TrustedKeys } from '../../shared/signing.js';

export type UpdateDecision = { action: 'none' } | { action: 'refuse'; reason: string } | { action: 'install' };

export interface Running {
  version: string;
  target: string;
  /** Started by the A/B launcher (FLOTILLA_HOME set): only then can the agent update itself. */
  launched: boolean;
}

/**
 * What to do about the agent a desired state pins (pure). Each revision is tried once: after it committed, rolled
 * back or failed, the same revision is never tried again (its coordinator keeps it retained until the rollout moves
 * on); one interrupted half-way (downloading, installing) is resumed.
 */
export function decideUpdate(pin: AgentPin, revision: number, running: Running, last: AgentUpdateHealth | undefined, trusted: TrustedKeys, revoked: ReadonlySet<string> = new Set()): UpdateDecision {
  const { release } = pin;
  if (release.version === running.version) return { action: 'none' };
  if (last && last.revision === revision && ['committed', 'rolled_back', 'failed', 'trial'].includes(last.state)) return { action: 'none' };
  // A release that failed its trial here is not tried again by a later revision that still pins it (a spec change
  // carries the pin over): only another version is. A download or disk failure is retried.
  if (last && last.version === release.version && last.state === 'rolled_back') return { action: 'none' };
  if (!running.launched) return { action: 'refuse', reason: 'this agent was not started by flotilla-launcher (no FLOTILLA_HOME): it cannot update itself' };
  if (release.target !== running.target) return { action: 'refuse', reason: `release ${release.version} is for ${release.target}, this device runs ${running.target}` };
  const refused = releaseSignatureProblem(trusted, release, revoked);
  if (refused) return { action: 'refuse', reason: `release refused: ${refused}` };
  return { action: 'install' };
}
