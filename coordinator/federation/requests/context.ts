import type { DesiredMessage } from '../../../shared/desired.js';
import type { ReplyMessage, RequestMessage, RequestOp } from '../../../shared/federation.js';
import type { DeviceLogs, LogQuery } from '../../../shared/logs.js';
import type { DeviceHistory } from '../../../shared/stream.js';
import type { Labels } from '../../../shared/label-syntax.js';
import type { LabelPatch } from '../../../shared/labels.js';
import type { ShareOpen, ShareOrder, ShareReply } from '../../../shared/rollout.js';
import type { ClusterBus } from '../../cluster-bus.js';
import type { DeviceDirectory } from '../../fleet/directory.js';

/** What request handlers may use of the running coordinator. */
export interface RequestDeps {
  cluster: string;
  directory: DeviceDirectory;
  bus: ClusterBus;
  /** Stores and publishes a desired spec for this cluster's own devices (coordinator/desired): revisions or errors per device. */
  applyDesired(devices: string[], op: Extract<RequestOp, { type: 'desired' }>): Promise<{ revisions: Record<string, number>; errors: Record<string, string> }>;
  /** The desired state stored for one of this cluster's own devices. */
  desiredOf(id: string): DesiredMessage | undefined;
  /** The health history ring of one of this cluster's own devices (coordinator/dashboard). */
  historyOf(id: string): DeviceHistory;
  /** The recent log lines of one of this cluster's own devices (coordinator/logs). */
  logsOf(id: string, query: LogQuery): DeviceLogs;
  /** Change the labels of one of this cluster's own devices, durably (a ValidationError names a bad patch). */
  patchLabels(id: string, patch: LabelPatch): Promise<Labels>;
  /**
   * This cluster's shares of rollouts (coordinator/rollouts), each answered with the share's report once durable.
   * `upstream`: the owner is above (reports go up the uplink), not this coordinator.
   */
  shares: {
    open(msg: ShareOpen, upstream: boolean): Promise<ShareReply>;
    order(rollout: string, order: ShareOrder): Promise<ShareReply>;
  };
}

/** One request for this cluster's own devices: `known` are the addressed ids it has; the handler fills `reply`. */
export interface RequestContext {
  req: RequestMessage;
  /** `parent`: the request came down from the parent; `self`: this coordinator asked itself. */
  origin: 'parent' | 'self';
  known: string[];
  reply: ReplyMessage;
  deps: RequestDeps;
}

export type OpHandler<T extends RequestOp['type']> = (op: Extract<RequestOp, { type: T }>, ctx: RequestContext) => void | Promise<void>;
