import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import { DesiredMessage } from '../../shared/desired.js';
import { DeviceId } from '../../shared/ids.js';
import { LabelsSchema } from '../../shared/labels.js';
import { ConfigError, describeZodError, errorMessage } from '../../shared/errors.js';
import { hashToken, mintToken, tokenMatches } from './tokens.js';

/** Facts an agent reports about itself; kept so a restarted coordinator still shows them. */
export const DeviceFacts = z.object({
  arch: z.string(),
  platform: z.string(),
  target: z.string(),
  agentVersion: z.string(),
  nodeVersion: z.string(),
});
export type DeviceFacts = z.infer<typeof DeviceFacts>;

export const DeviceRecord = z.object({
  id: z.string(),
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.number(),
  facts: DeviceFacts.optional(),
  lastSeen: z.number().optional(),
  /** The desired state last sent to the device (coordinator/desired), re-published after a restart. */
  desired: DesiredMessage.optional(),
  /** Set at enrolment and by `PATCH /api/v1/devices/:id` (shared/labels.ts). */
  labels: LabelsSchema.optional(),
});
export type DeviceRecord = z.infer<typeof DeviceRecord>;

const RegistryData = z.object({
  version: z.literal(1),
  devices: z.record(z.string(), DeviceRecord),
});
type RegistryData = z.infer<typeof RegistryData>;

/**
 * The coordinator's durable registry (devices, tokens, last known facts) in one lowdb JSON file.
 * lowdb rewrites the whole file on each write, so changes are coalesced: at most one write per `flushMs`,
 * and `close()` writes what is pending. Hot health state stays in memory (coordinator/fleet), never here.
 */
export class Registry {
  private pending: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: Low<RegistryData>,
    private readonly flushMs: number,
  ) {}

  static async open(dataDir: string, flushMs = 1000): Promise<Registry> {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'registry.json');
    const db = new Low<RegistryData>(new JSONFile(file), { version: 1, devices: {} });
    try {
      await db.read();
    } catch (err) {
      throw new ConfigError(`--data-dir: ${file} is not valid JSON (${errorMessage(err)}); refusing to overwrite it`);
    }
    const parsed = RegistryData.safeParse(db.data);
    if (!parsed.success) {
      throw new ConfigError(`--data-dir: ${file} is not a Flotilla registry: ${describeZodError(parsed.error)}`);
    }
    db.data = parsed.data;
    return new Registry(db, flushMs);
  }

  list(): DeviceRecord[] {
    return Object.values(this.db.data.devices);
  }

  get(id: string): DeviceRecord | undefined {
    return this.db.data.devices[id];
  }

  /** Issue a fresh token for `id` (enrolling it, or rotating its token). Returns the token; only its hash is kept. */
  enroll(id: string, now = Date.now()): string {
    const token = mintToken();
    this.setToken(id, token, now);
    return token;
  }

  /** Accept a pre-shared token for `id` (from `--tokens-file`). */
  setToken(id: string, token: string, now = Date.now()): void {
    const existing = this.db.data.devices[id];
    this.db.data.devices[id] = { ...existing, id, tokenHash: hashToken(token), createdAt: existing?.createdAt ?? now };
    this.scheduleWrite();
  }

  remove(id: string): boolean {
    if (!this.db.data.devices[id]) return false;
    delete this.db.data.devices[id];
    this.scheduleWrite();
    return true;
  }

  authenticate(id: string, token: string): boolean {
    const record = this.db.data.devices[id];
    return record !== undefined && tokenMatches(token, record.tokenHash);
  }

  /** Record facts/last-seen/desired state; the write is coalesced with others. */
  update(id: string, patch: Partial<Pick<DeviceRecord, 'facts' | 'lastSeen' | 'desired' | 'labels'>>): void {
    const record = this.db.data.devices[id];
    if (!record) return;
    Object.assign(record, patch);
    this.scheduleWrite();
  }

  private scheduleWrite(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.writing = this.writing.then(() => this.db.write());
    }, this.flushMs);
  }

  async close(): Promise<void> {
    if (this.pending) {
      clearTimeout(this.pending);
      this.pending = undefined;
      this.writing = this.writing.then(() => this.db.write());
    }
    await this.writing;
  }
}

/**
 * Pre-shared tokens: a JSON object `{ "device-id": "token", ... }`. Errors name the file and the entry.
 */
export function readTokensFile(path: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`--tokens-file: cannot read ${path}: ${errorMessage(err)}`);
  }
  const parsed = z.record(z.string(), z.string().min(16, 'token must be at least 16 characters')).safeParse(data);
  if (!parsed.success) throw new ConfigError(`--tokens-file: ${path}: ${describeZodError(parsed.error)}`);
  // Keys checked one by one: zod's record-key error does not say what a valid id is.
  for (const id of Object.keys(parsed.data)) {
    const bad = DeviceId.safeParse(id);
    if (!bad.success) throw new ConfigError(`--tokens-file: ${path}: device id ${JSON.stringify(id)} ${bad.error.issues[0].message}`);
  }
  return parsed.data;
}
