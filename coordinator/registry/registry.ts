import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DesiredMessage } from '../../shared/desired.js';
import { openMapFile, type DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { DeviceId } from '../../shared/ids.js';
import type { Labels } from '../../shared/label-syntax.js';
import { LabelsSchema, NO_LABELS, applyLabelPatch, type LabelPatch } from '../../shared/labels.js';
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

/**
 * The coordinator's durable registry (devices, tokens, last known facts, desired states) in `registry.json`.
 * Tokens, removals and desired states are committed before the caller answers (acknowledge-after-durable, group
 * commit); last-seen times and reported facts are deferred writes. Hot health stays in memory (coordinator/fleet).
 */
export class Registry {
  private constructor(private readonly store: DurableFile<Map<string, DeviceRecord>>) {}

  /** registry.json keeps the layout of earlier releases, which open unchanged. */
  static async open(dataDir: string, opts: StoreOptions): Promise<Registry> {
    return new Registry(await openMapFile({ path: join(dataDir, 'registry.json'), what: 'device registry', key: 'devices' }, DeviceId, DeviceRecord, opts));
  }

  get stats(): Readonly<{ writes: number; failures: number }> {
    return this.store.stats;
  }

  list(): DeviceRecord[] {
    return [...this.store.data.values()];
  }

  get(id: string): DeviceRecord | undefined {
    return this.store.data.get(id);
  }

  /** Issue a fresh token for `id` (enrolling it, or rotating its token), durably. Only its hash is kept. */
  async enroll(id: string, now = Date.now()): Promise<string> {
    const token = mintToken();
    await this.setToken(id, token, now);
    return token;
  }

  /** Accept a token for `id` (a fresh one, or pre-shared from `--tokens-file`); resolves once it is on disk. */
  setToken(id: string, token: string, now = Date.now()): Promise<void> {
    const existing = this.store.data.get(id);
    this.store.data.set(id, { ...existing, id, tokenHash: hashToken(token), createdAt: existing?.createdAt ?? now });
    return this.store.commit();
  }

  /** Resolves true once the removal is on disk, false for an unknown id. */
  async remove(id: string): Promise<boolean> {
    if (!this.store.data.delete(id)) return false;
    await this.store.commit();
    return true;
  }

  authenticate(id: string, token: string): boolean {
    const record = this.store.data.get(id);
    return record !== undefined && tokenMatches(token, record.tokenHash);
  }

  /** The desired state last sent to `id`, durably (it is re-published after a restart). */
  setDesired(id: string, desired: DesiredMessage): Promise<void> {
    return this.setDurably(id, { desired });
  }

  /** The device's labels, durably: an API answer follows the commit. */
  setLabels(id: string, labels: Labels): Promise<void> {
    return this.setDurably(id, { labels });
  }

  /** Apply a label patch (a ValidationError names a bad one); resolves with the labels once they are on disk. */
  async patchLabels(id: string, patch: LabelPatch): Promise<Labels> {
    const labels = applyLabelPatch(this.get(id)?.labels ?? NO_LABELS, patch);
    await this.setLabels(id, labels);
    return labels;
  }

  private async setDurably(id: string, patch: Partial<Pick<DeviceRecord, 'desired' | 'labels'>>): Promise<void> {
    const record = this.store.data.get(id);
    if (!record) return;
    Object.assign(record, patch);
    await this.store.commit();
  }

  /** Record facts or last-seen: hot facts, written within a second, never waited for. */
  update(id: string, patch: Partial<Pick<DeviceRecord, 'facts' | 'lastSeen'>>): void {
    const record = this.store.data.get(id);
    if (!record) return;
    Object.assign(record, patch);
    this.store.defer();
  }

  close(): Promise<void> {
    return this.store.close();
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
