import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { DeviceDetail, FanoutResult } from '../../shared/api.js';
import type { DesiredMessage } from '../../shared/desired.js';
import { errorMessage } from '../../shared/errors.js';
import { RequestMessage, type ReplyMessage, type RequestOp, type RequestScope } from '../../shared/federation.js';
import { UPLINK, downTopic, splitQualifiedId, upTopic, type ClusterPath } from '../../shared/fleet-topics.js';
import type { Logger } from '../../shared/log.js';
import { decode, encode, type AckMessage } from '../../shared/messages.js';
import type { DeviceHistory } from '../../shared/stream.js';
import type { DeviceLogs, LogQuery } from '../../shared/logs.js';
import type { CoordinatorMetrics } from '../metrics/metrics.js';
import { Collector } from './collector.js';
import { handleLocally, type RequestDeps } from './requests/index.js';

/** Time kept back at each hop so replies from below arrive before the requester above gives up. */
const HOP_MARGIN_MS = 150;
const lessHop = (budgetMs: number) => Math.max(1, budgetMs - HOP_MARGIN_MS);

export interface RequestAnswer {
  result: FanoutResult;
  detail?: DeviceDetail;
  desired?: DesiredMessage;
  history?: DeviceHistory;
  logs?: DeviceLogs;
}

/**
 * Requests down the tree (docs/federation.md, "Requests"): routes our own (API) requests to the addressed cluster
 * and gathers the replies; answers requests from the parent for this cluster (its own devices through the op table
 * in requests/, its children by forwarding).
 */
export class Requester {
  private readonly collectors = new Map<string, { collector: Collector; finish(): void }>();

  constructor(
    private readonly deps: RequestDeps & { client: MqttClient; children(): { name: string; up: boolean }[]; metrics: CoordinatorMetrics; log: Logger },
  ) {}

  /** `flotilla/down/req` from the parent: parsed once here, answered on our uplink. */
  async fromParent(payload: Buffer): Promise<void> {
    let req: RequestMessage;
    try {
      req = decode(RequestMessage, payload, 'request from the parent');
    } catch (err) {
      this.deps.metrics.invalid.inc({ source: 'request' });
      this.deps.log.warn(`dropped invalid request: ${errorMessage(err)}`);
      return;
    }
    const reply = await this.handle(req, 'parent');
    this.deps.client.publish(upTopic([], UPLINK.reply), encode(reply), { qos: 1 });
  }

  /** Handle a request addressed to this cluster: its own devices now, its children by forwarding. */
  private async handle(req: RequestMessage, origin: 'parent' | 'self'): Promise<ReplyMessage> {
    this.deps.metrics.requests.inc({ op: req.op.type });
    // Keyed by device ids from the wire: null-prototype maps.
    const reply: ReplyMessage = { id: req.id, acks: Object.create(null), errors: Object.create(null), forwardedTo: [], unreachable: [] };
    if (req.target.scope === 'subtree') {
      for (const child of this.deps.children()) {
        if (!child.up) {
          reply.unreachable.push(child.name);
          continue;
        }
        const forward: RequestMessage = { ...req, budgetMs: lessHop(req.budgetMs) };
        this.deps.client.publish(downTopic([child.name], 'req'), encode(forward), { qos: 1 });
        reply.forwardedTo.push(child.name);
      }
    }
    try {
      await handleLocally(req, origin, reply, this.deps);
    } catch (err) {
      // E.g. a desired state that could not be stored (disk full): every addressed device not yet answered says why.
      this.deps.log.error(`request ${req.op.type} ${req.id}: ${errorMessage(err)}`);
      const addressed = req.target.scope === 'device' ? [req.target.device] : this.deps.directory.ownIds();
      for (const id of addressed) if (!reply.acks[id]) reply.errors[id] ??= errorMessage(err);
    }
    return reply;
  }

  /**
   * Route a request to `path` (relative; `[]` = this cluster) and collect every reply, waiting at most
   * `timeoutMs`; clusters that did not answer in time are listed as unreachable.
   */
  request(path: ClusterPath, target: RequestScope, op: RequestOp, timeoutMs: number): Promise<RequestAnswer> {
    const req: RequestMessage = { id: randomUUID(), budgetMs: timeoutMs, target, op };
    const collector = new Collector(path);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.collectors.delete(req.id);
        resolve({ result: collector.expire(), detail: collector.detail, desired: collector.desired, history: collector.history, logs: collector.logs });
      };
      // Locally the devices get the whole budget; the margin lets our own reply land before we give up.
      const timer = setTimeout(finish, path.length === 0 ? timeoutMs + HOP_MARGIN_MS : timeoutMs);
      this.collectors.set(req.id, { collector, finish });
      if (path.length === 0) void this.handle(req, 'self').then((reply) => this.onReply([], reply));
      else this.deps.client.publish(downTopic(path, 'req'), encode({ ...req, budgetMs: lessHop(timeoutMs) }), { qos: 1 });
    });
  }

  /** The health history of a device below (qualified id), from its own coordinator; undefined if it did not answer. */
  async remoteHistory(qid: string, timeoutMs = 3000): Promise<DeviceHistory | undefined> {
    const { path, id } = splitQualifiedId(qid);
    const { history } = await this.request(path, { scope: 'device', device: id }, { type: 'history' }, timeoutMs);
    return history && { ...history, id: qid };
  }

  /** The log lines of a device below (qualified id), from its own coordinator; undefined if it did not answer. */
  async remoteLogs(qid: string, query: LogQuery, timeoutMs = 3000): Promise<DeviceLogs | undefined> {
    const { path, id } = splitQualifiedId(qid);
    const { logs } = await this.request(path, { scope: 'device', device: id }, { type: 'logs', query }, timeoutMs);
    return logs && { ...logs, id: qid };
  }

  /** A reply came up from `path` (the intake parsed it). */
  onReply(path: ClusterPath, reply: ReplyMessage): void {
    const pending = this.collectors.get(reply.id);
    if (!pending) return; // someone else's request passing through on its way up
    if (pending.collector.add(path, reply) && pending.collector.done) pending.finish();
  }

  /** Answer every waiting request with what it has (stop). */
  finishAll(): void {
    for (const c of this.collectors.values()) c.finish();
  }

  /** Device ack of a single-device request, or the error that explains its absence. */
  static single(result: FanoutResult, qid: string): { ack?: AckMessage; error?: string } {
    return { ack: result.acks[qid], error: result.errors[qid] ?? (result.unreachable.length ? `cluster ${result.unreachable.join(', ')} did not answer` : undefined) };
  }
}
