import { join } from 'node:path';
import { z } from 'zod';
import { openMapFile, type DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { ClusterName } from '../../shared/fleet-topics.js';
import { hashToken, mintToken, tokenMatches } from '../registry/tokens.js';

/** MQTT username (and client id) prefix of a child coordinator's bridge; `:` never occurs in a device id. */
export const CHILD_USER_PREFIX = 'child:';

const ChildRecord = z.object({ name: z.string(), tokenHash: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.number() });
export type ChildRecord = z.infer<typeof ChildRecord>;

/**
 * Credentials of enrolled child coordinators (`clusters.json` in the data dir), kept apart from the device
 * registry so a child never shows up as a device. Tokens are hashed like device tokens; an enrolment resolves only
 * once it is on disk.
 */
export class Children {
  private constructor(private readonly store: DurableFile<Map<string, ChildRecord>>) {}

  static async open(dataDir: string, opts: StoreOptions): Promise<Children> {
    return new Children(await openMapFile({ path: join(dataDir, 'clusters.json'), what: 'cluster list', key: 'children' }, ClusterName, ChildRecord, opts));
  }

  has(name: string): boolean {
    return this.store.data.has(name);
  }

  async enroll(name: string, token = mintToken(), now = Date.now()): Promise<string> {
    const existing = this.store.data.get(name);
    this.store.data.set(name, { name, tokenHash: hashToken(token), createdAt: existing?.createdAt ?? now });
    await this.store.commit();
    return token;
  }

  /** The child's name when `username` is `child:<name>` with a matching token and client id. */
  authenticate(clientId: string, username: string, password: string): string | undefined {
    if (!username.startsWith(CHILD_USER_PREFIX) || clientId !== username) return undefined;
    const record = this.store.data.get(username.slice(CHILD_USER_PREFIX.length));
    return record && tokenMatches(password, record.tokenHash) ? record.name : undefined;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
