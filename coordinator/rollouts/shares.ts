import { errorMessage } from '../../shared/errors.js';
import type { ShareOpen, ShareOrder, ShareReply } from '../../shared/rollout.js';
import type { DirectoryChange, DeviceDirectory } from '../fleet/directory.js';
import { observeFor, prepareChange } from './change.js';
import type { RolloutFile } from './rollout-file.js';
import { ShareRunner, type ShareDeps } from './share-runner.js';

export type SharesDeps = Omit<ShareDeps, 'observe' | 'device' | 'save'> & { cluster: string; directory: DeviceDirectory };

/**
 * This coordinator's shares of rollouts, one per rollout that covers some of its own devices, whoever owns the
 * rollout (this coordinator, or one above): opened and ordered through the request ops `rollout_open` /
 * `rollout_order`, fed by the device directory's change feed, persisted in rollouts.json and resumed after a restart.
 */
export class Shares {
  private readonly all = new Map<string, ShareRunner>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly deps: SharesDeps,
    private readonly file: RolloutFile,
  ) {
    for (const record of file.shares()) {
      try {
        this.all.set(record.rollout, ShareRunner.restore(record, this.shareDeps()));
      } catch (err) {
        deps.log.error(`share of rollout ${record.rollout} cannot be resumed: ${errorMessage(err)}`);
      }
    }
  }

  /** Subscribe to the directory and resume every stored share (each sends its report). */
  async start(): Promise<void> {
    this.unsubscribe = this.deps.directory.onChange((change) => this.changed(change));
    // A share that cannot be saved now is logged by its queue; the others still resume.
    await Promise.all([...this.all.values()].map((s) => s.start().catch(() => {})));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const s of this.all.values()) s.stop();
  }

  /** Open a share (again: the same rollout's share answers as it is). Refused when a device is in another active rollout. */
  async open(msg: ShareOpen, upstream: boolean): Promise<ShareReply> {
    const existing = this.all.get(msg.rollout);
    if (existing) return existing.current();
    for (const id of msg.devices) {
      if (!this.deps.directory.isLocal(id)) throw new Error(`no device "${id}" in cluster ${this.deps.cluster}`);
      const other = this.activeWith(id);
      if (other) throw new Error(`device ${id} is already in rollout ${other}; two active rollouts may not share a device`);
    }
    await prepareChange(msg.change, this.deps.env);
    if (this.all.has(msg.rollout)) return this.all.get(msg.rollout)!.current(); // opened again while preparing
    const share = ShareRunner.create(msg, upstream, this.shareDeps());
    this.all.set(msg.rollout, share);
    try {
      return await share.start();
    } catch (err) {
      // Not on disk (a full or read-only data dir): the share did not open, and its owner is told so. Kept, it
      // would hold its devices for a rollout that does not exist ("already in rollout ...") until a restart.
      share.stop();
      this.all.delete(msg.rollout);
      throw err;
    }
  }

  /** The owner's order for one share. */
  order(rollout: string, order: ShareOrder): Promise<ShareReply> {
    const share = this.all.get(rollout);
    if (!share) return Promise.reject(new Error(`no share of rollout ${rollout} in cluster ${this.deps.cluster}`));
    return share.order(order);
  }

  /** The shares carried out for an owner above (an owner here shows its rollout instead). */
  carriedForAbove(): ShareRunner[] {
    return [...this.all.values()].filter((s) => s.upstream);
  }

  /** The active rollout (other than `except`) that holds this own device, if any. */
  activeWith(id: string, except?: string): string | undefined {
    for (const s of this.all.values()) if (s.rollout !== except && s.active && s.has(id)) return s.rollout;
    return undefined;
  }

  private shareDeps(): ShareDeps {
    const { deps } = this;
    return {
      ...deps,
      observe: (id, change) => observeFor(change, deps.directory.live.get(id)),
      device: (id) => ({ current: deps.desiredOf(id), summary: deps.directory.summary(id) }),
      save: (record) => this.file.saveShare(record),
    };
  }

  /** Own device news reaches the active shares that hold that device. */
  private changed(change: DirectoryChange): void {
    if (!('id' in change) || change.kind === 'remote' || change.kind === 'remote_event') return;
    for (const s of this.all.values()) if (s.active && s.has(change.id)) s.observe(change.id);
  }
}
