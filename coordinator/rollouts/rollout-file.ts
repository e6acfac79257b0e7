import { join } from 'node:path';
import { z } from 'zod';
import { DesiredMessage, ModuleRef } from '../../shared/desired.js';
import { DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { DeviceRolloutState, Revert, RolloutChange, RolloutState, ShareGates, ShareOrder, ShareReport, WaveState } from '../../shared/rollout.js';
import { StepRef } from '../../shared/supervisor-spec.js';
import type { OwnedRecord } from './owned-rollout.js';
import type { ShareRecord } from './share-runner.js';

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

const OwnedSchema = z.object({
  id: z.string(),
  createdAt: z.number(),
  request: z.unknown(),
  devices: z.array(z.string()),
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
  seqs: z.array(z.tuple([z.string(), nat])),
});

const ShareSchema = z.object({
  rollout: z.string(),
  upstream: z.boolean(),
  change: RolloutChange,
  modules: z.record(StepRef, ModuleRef),
  share: z.object({ gates: ShareGates, order: ShareOrder, devices: z.array(ShareDeviceSchema) }),
  previous: z.array(z.tuple([z.string(), DesiredMessage.nullable()])),
  seq: nat,
});

interface Contents {
  owned: Map<string, OwnedRecord>;
  shares: Map<string, ShareRecord>;
}

/**
 * rollouts.json, version 2: the rollouts this coordinator owns and its shares of rollouts (its own or its
 * parent's); ids into Maps. Version 1 (a rollout and its one share in one record, before rollouts crossed clusters)
 * is read as empty: those records lack the resolved modules a share now keeps (docs/decisions.md).
 */
const FileSchema = z.union([
  z.object({ version: z.literal(2), owned: z.array(OwnedSchema), shares: z.array(ShareSchema) }).transform(
    ({ owned, shares }): Contents => ({ owned: new Map(owned.map((r) => [r.id, r])), shares: new Map(shares.map((r) => [r.rollout, r])) }),
  ),
  z.object({ version: z.literal(1) }).transform((): Contents => ({ owned: new Map(), shares: new Map() })),
]);

/**
 * `rollouts.json` in the data dir (shared/durable: atomic fsynced writes, group commit, a corrupt file moved
 * aside). Every step of a rollout or a share is committed before what it decided is sent, so a restart resumes it.
 */
export class RolloutFile {
  private constructor(private readonly store: DurableFile<Contents>) {}

  static async open(dataDir: string, opts: StoreOptions): Promise<RolloutFile> {
    const store = await DurableFile.open(
      {
        file: join(dataDir, 'rollouts.json'),
        what: 'rollouts file',
        schema: FileSchema,
        empty: () => ({ owned: new Map(), shares: new Map() }),
        serialize: ({ owned, shares }) => ({ version: 2, owned: [...owned.values()], shares: [...shares.values()] }),
      },
      opts,
    );
    return new RolloutFile(store);
  }

  owned(): OwnedRecord[] {
    return [...this.store.data.owned.values()];
  }

  shares(): ShareRecord[] {
    return [...this.store.data.shares.values()];
  }

  /** Resolves once what is held is on disk; a StoreWriteError when the data dir cannot take a write. */
  flush(): Promise<void> {
    return this.store.commit();
  }

  /** Resolves once a write containing this state is on disk. */
  saveOwned(record: OwnedRecord): Promise<void> {
    this.store.data.owned.set(record.id, record);
    return this.store.commit();
  }

  saveShare(record: ShareRecord): Promise<void> {
    this.store.data.shares.set(record.rollout, record);
    return this.store.commit();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
