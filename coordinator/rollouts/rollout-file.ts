import { join } from 'node:path';
import { z } from 'zod';
import { DesiredMessage } from '../../shared/desired.js';
import { DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { DeviceRolloutState, Revert, RolloutState, ShareOrder, ShareReport, WaveState } from '../../shared/rollout.js';
import type { StoredRollout } from './local-rollout.js';

const nat = z.number().int().nonnegative();

const ShareDeviceSchema = z.object({
  id: z.string(),
  wave: nat.optional(),
  state: DeviceRolloutState,
  reason: z.string().optional(),
  since: z.number(),
  skip: z.string().optional(),
  revision: nat.optional(),
  appliedAt: z.number().optional(),
  restartBaseline: nat.optional(),
  reverted: z.boolean().optional(),
});

const StoredRolloutSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  request: z.unknown(),
  planner: z.object({
    state: RolloutState,
    reason: z.string(),
    since: z.number(),
    wave: nat,
    waves: z.array(WaveState),
    sizes: z.array(nat),
    revert: Revert,
    clusters: z.array(z.object({ cluster: z.string(), quotas: z.array(nat), order: ShareOrder.optional(), heardAt: z.number(), report: ShareReport.optional() })),
  }),
  share: z.object({ gates: z.object({ soakMs: nat, maxRestarts: nat, offlineTimeoutMs: nat, applyTimeoutMs: nat }), order: ShareOrder, devices: z.array(ShareDeviceSchema) }),
  previous: z.array(z.tuple([z.string(), DesiredMessage.nullable()])),
});

/** rollouts.json: version 1, every rollout this coordinator owns; ids into a Map. */
const FileSchema = z
  .object({ version: z.literal(1), rollouts: z.array(StoredRolloutSchema) })
  .transform(({ rollouts }) => new Map<string, StoredRollout>(rollouts.map((r) => [r.id, r])));

/**
 * `rollouts.json` in the data dir (shared/durable: atomic fsynced writes, group commit, a corrupt file moved
 * aside). Every step of a rollout is committed before the next is taken, so a restart resumes from it.
 */
export class RolloutFile {
  private constructor(private readonly store: DurableFile<Map<string, StoredRollout>>) {}

  static async open(dataDir: string, opts: StoreOptions): Promise<RolloutFile> {
    const store = await DurableFile.open(
      {
        file: join(dataDir, 'rollouts.json'),
        what: 'rollouts file',
        schema: FileSchema,
        empty: () => new Map(),
        serialize: (all) => ({ version: 1, rollouts: [...all.values()] }),
      },
      opts,
    );
    return new RolloutFile(store);
  }

  list(): StoredRollout[] {
    return [...this.store.data.values()];
  }

  /** Resolves once a write containing this state is on disk. */
  save(rollout: StoredRollout): Promise<void> {
    this.store.data.set(rollout.id, rollout);
    return this.store.commit();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
