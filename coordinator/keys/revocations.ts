import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { decode, encode } from '../../shared/messages.js';
import {
  EMPTY_REVOCATIONS,
  REVOKED_FROM_PARENT,
  REVOKED_TOPIC,
  RevocationList,
  mergeRevocations,
  revokedKeyIds,
  type Revocation,
  type RevocationRequest,
} from '../../shared/revocations.js';
import type { Dispatch } from '../mqtt/dispatch.js';

/** Refused revocation requests: a child coordinator takes its list from its parent, never from its own API. */
export class NotRootError extends Error {
  override name = 'NotRootError';
}

/**
 * This coordinator's copy of the fleet's revoked keys (`revocations.json` in the data dir). The root adds to it
 * (`revoke`); a child merges what its parent's list brings down the bridge. After every change is on disk, the whole
 * list is published retained on REVOKED_TOPIC, for this cluster's agents and the bridges of its children; at start,
 * the stored list is published again, so a coordinator restarted while its parent is away still hands it down.
 */
export class Revocations {
  private ids: ReadonlySet<string>;
  /** Commit-and-publish rounds begun, and the latest that ended on disk and on the broker: unequal, the held list may be neither. */
  private begun = 0;
  private done = 0;

  private constructor(
    private readonly store: DurableFile<RevocationList>,
    private readonly client: MqttClient,
    private readonly isChild: boolean,
    private readonly log: Logger,
  ) {
    this.ids = revokedKeyIds(store.data);
  }

  static async open(deps: { dataDir: string; store: StoreOptions; client: MqttClient; isChild: boolean; log: Logger }): Promise<Revocations> {
    const store = await DurableFile.open(
      { file: join(deps.dataDir, 'revocations.json'), what: 'revocation list', schema: RevocationList, empty: () => structuredClone(EMPTY_REVOCATIONS), serialize: (l) => l },
      deps.store,
    );
    return new Revocations(store, deps.client, deps.isChild, deps.log);
  }

  list(): RevocationList {
    return this.store.data;
  }

  /** Key ids revoked here (refused at upload, and what agents refuse). */
  keyIds(): ReadonlySet<string> {
    return this.ids;
  }

  /** Publish what is stored, and take the parent's list off the dispatch (a child). */
  async start(dispatch: Dispatch): Promise<void> {
    if (this.store.data.keys.length) await this.publish();
    if (!this.isChild) return;
    dispatch.on('revocations', (_route, payload) => void this.fromParent(payload));
    await this.client.subscribeAsync(REVOKED_FROM_PARENT, { qos: 1 });
  }

  /** At the root: revoke a key; resolves with the list once it is on disk and on this cluster's broker. */
  async revoke(request: RevocationRequest, now = Date.now()): Promise<RevocationList> {
    if (this.isChild) throw new NotRootError('keys are revoked at the root coordinator; this one takes its list from its parent');
    // Listed already, perhaps by a request whose write failed (507: kept in memory, neither on disk nor published):
    // the answer to this one waits for both all the same, and the list goes down the tree again (a child whose own
    // write failed takes it as its retry).
    await this.add([{ ...request, revokedAt: now }], true);
    return this.store.data;
  }

  /** The parent's list, as its bridge re-published it here: bounded and parsed once, merged, stored, handed down. */
  private async fromParent(payload: Buffer): Promise<void> {
    if (payload.length === 0) return;
    try {
      const { keys } = decode(RevocationList, payload, 'revocation list from the parent');
      const added = await this.add(keys);
      if (added.length) this.log.warn(`keys revoked by the root: ${added.join(', ')}`);
    } catch (err) {
      this.log.error(`revocation list from the parent not taken: ${errorMessage(err)}`);
    }
  }

  /**
   * Merge, commit, then publish; the key ids that were new. Nothing new still commits and publishes (`again`) while
   * the held list is not known to be on disk and published (a write that failed, e.g. a full disk at a child): the
   * parent's list arriving again is then the retry, and this cluster's agents get the list without another key.
   */
  private async add(keys: readonly Revocation[], again = this.done !== this.begun): Promise<string[]> {
    const merged = mergeRevocations(this.store.data, keys);
    if (!merged) {
      if (again) await this.commitAndPublish();
      return [];
    }
    this.store.data.keys = merged.list.keys;
    this.ids = revokedKeyIds(merged.list);
    await this.commitAndPublish();
    return merged.added;
  }

  private async commitAndPublish(): Promise<void> {
    const round = ++this.begun;
    await this.store.commit();
    await this.publish();
    this.done = Math.max(this.done, round); // a round ending carries every change made before it began
  }

  /** The latest list, whole: concurrent changes each publish after their commit, and receivers merge as a union. */
  private publish(): Promise<unknown> {
    return this.client.publishAsync(REVOKED_TOPIC, encode(this.store.data), { qos: 1, retain: true });
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
