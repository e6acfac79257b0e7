import type { DesiredMessage } from '../../../shared/desired.js';
import type { ReplyMessage, RequestMessage, RequestOp } from '../../../shared/federation.js';
import type { DeviceLogs, LogQuery } from '../../../shared/logs.js';
import type { DeviceHistory } from '../../../shared/stream.js';
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
}

/** One request for this cluster's own devices: `known` are the addressed ids it has; the handler fills `reply`. */
export interface RequestContext {
  req: RequestMessage;
  known: string[];
  reply: ReplyMessage;
  deps: RequestDeps;
}

export type OpHandler<T extends RequestOp['type']> = (op: Extract<RequestOp, { type: T }>, ctx: RequestContext) => void | Promise<void>;
