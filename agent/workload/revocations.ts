import { decode } from '../../shared/messages.js';
import { RevocationList, mergeRevocations, revokedKeyIds } from '../../shared/revocations.js';
import type { AgentState } from '../state.js';

/**
 * The agent's copy of the fleet's revoked keys: read from local state at boot (so an agent restarted without its
 * coordinator still honours it), merged with each list its coordinator publishes, and on disk before it is used.
 * Only the coordinator can publish the list (the broker's ACL); its schema bounds what a list may hold.
 */
export class AgentRevocations {
  private ids: ReadonlySet<string>;

  constructor(private readonly state: AgentState) {
    this.ids = revokedKeyIds(state.data.revocations);
  }

  keyIds(): ReadonlySet<string> {
    return this.ids;
  }

  /** A list from the coordinator (thrown at if malformed); resolves with the key ids it newly revoked. */
  async receive(payload: Buffer): Promise<string[]> {
    const { keys } = decode(RevocationList, payload, 'revocation list');
    const merged = mergeRevocations(this.state.data.revocations, keys);
    if (!merged) return [];
    await this.state.update({ revocations: merged.list });
    this.ids = revokedKeyIds(merged.list);
    return merged.added;
  }
}
