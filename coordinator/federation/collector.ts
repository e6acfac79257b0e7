import type { DeviceDetail, FanoutResult } from '../../shared/api.js';
import type { DesiredMessage } from '../../shared/desired.js';
import type { ReplyMessage } from '../../shared/federation.js';
import type { DeviceHistory } from '../../shared/stream.js';
import type { DeviceLogs } from '../../shared/logs.js';
import { qualifyId, type ClusterPath } from '../../shared/fleet-topics.js';

/**
 * Gathers the replies to one request routed down the tree. It starts waiting for the addressed cluster; every
 * reply names the child clusters it forwarded to, which are then waited for too, so the requester needs no prior
 * knowledge of the tree below. Pure.
 */
export class Collector {
  /** Keyed by qualified ids from replies: null-prototype maps. */
  readonly result: FanoutResult = { acks: Object.create(null), errors: Object.create(null), unreachable: [] };
  detail: DeviceDetail | undefined;
  desired: DesiredMessage | undefined;
  history: DeviceHistory | undefined;
  logs: DeviceLogs | undefined;
  private readonly waiting = new Set<string>();

  constructor(first: ClusterPath) {
    this.waiting.add(first.join('/'));
  }

  get done(): boolean {
    return this.waiting.size === 0;
  }

  /** Merge a reply from `path`; false when nobody there was waited for (a duplicate or a stray). */
  add(path: ClusterPath, reply: ReplyMessage): boolean {
    if (!this.waiting.delete(path.join('/'))) return false;
    for (const [id, ack] of Object.entries(reply.acks)) this.result.acks[qualifyId(path, id)] = ack;
    for (const [id, error] of Object.entries(reply.errors)) this.result.errors[qualifyId(path, id)] = error;
    for (const child of reply.forwardedTo) this.waiting.add([...path, child].join('/'));
    for (const child of reply.unreachable) this.result.unreachable.push([...path, child].join('/'));
    this.detail ??= reply.detail;
    this.desired ??= reply.desired;
    this.history ??= reply.history;
    this.logs ??= reply.logs;
    return true;
  }

  /** Give up: whatever has not replied is unreachable. */
  expire(): FanoutResult {
    this.result.unreachable.push(...this.waiting);
    this.waiting.clear();
    return this.result;
  }
}
