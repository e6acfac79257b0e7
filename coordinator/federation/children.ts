import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import { ConfigError, describeZodError, errorMessage } from '../../shared/errors.js';
import { hashToken, mintToken, tokenMatches } from '../registry/tokens.js';

/** MQTT username (and client id) prefix of a child coordinator's bridge; `:` never occurs in a device id. */
export const CHILD_USER_PREFIX = 'child:';

const ChildRecord = z.object({ name: z.string(), tokenHash: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.number() });
export type ChildRecord = z.infer<typeof ChildRecord>;
const ChildrenData = z.object({ version: z.literal(1), children: z.record(z.string(), ChildRecord) });
type ChildrenData = z.infer<typeof ChildrenData>;

/**
 * Credentials of enrolled child coordinators (`clusters.json` in the data dir), kept apart from the device
 * registry so a child never shows up as a device. Tokens are hashed like device tokens. Writes are rare (enrolment),
 * so each one is written through.
 */
export class Children {
  private constructor(private readonly db: Low<ChildrenData>) {}

  static async open(dataDir: string): Promise<Children> {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'clusters.json');
    const db = new Low<ChildrenData>(new JSONFile(file), { version: 1, children: {} });
    try {
      await db.read();
    } catch (err) {
      throw new ConfigError(`--data-dir: ${file} is not valid JSON (${errorMessage(err)}); refusing to overwrite it`);
    }
    const parsed = ChildrenData.safeParse(db.data);
    if (!parsed.success) throw new ConfigError(`--data-dir: ${file} is not a Flotilla cluster list: ${describeZodError(parsed.error)}`);
    db.data = parsed.data;
    return new Children(db);
  }

  list(): ChildRecord[] {
    return Object.values(this.db.data.children);
  }

  async enroll(name: string, token = mintToken(), now = Date.now()): Promise<string> {
    const existing = this.db.data.children[name];
    this.db.data.children[name] = { name, tokenHash: hashToken(token), createdAt: existing?.createdAt ?? now };
    await this.db.write();
    return token;
  }

  /** The child's name when `username` is `child:<name>` with a matching token and client id. */
  authenticate(clientId: string, username: string, password: string): string | undefined {
    if (!username.startsWith(CHILD_USER_PREFIX) || clientId !== username) return undefined;
    const record = this.db.data.children[username.slice(CHILD_USER_PREFIX.length)];
    return record && tokenMatches(password, record.tokenHash) ? record.name : undefined;
  }
}
