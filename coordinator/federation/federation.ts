import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { DeviceDetail, DeviceSummary, FanoutResult, Rollup } from '../../shared/api.js';
import type { DesiredMessage } from '../../shared/desired.js';
import type { DeviceHistory } from '../../shared/stream.js';
import { ValidationError, errorMessage } from '../../shared/errors.js';
import {
  AliveMessage,
  BridgeStateMessage,
  DetailMessage,
  ReplyMessage,
  RequestMessage,
  SummaryMessage,
  UpEventMessage,
  type RequestOp,
  type RequestScope,
} from '../../shared/federation.js';
import { DOWN, LINK, RETAINED_UP_KINDS, UP, UPLINK, downTopic, parseFleetTopic, splitQualifiedId, upTopic, type ClusterPath } from '../../shared/fleet-topics.js';
import type { Logger } from '../../shared/log.js';
import { decode, encode, type AckMessage, type EventMessage } from '../../shared/messages.js';
import { CommandTimeoutError, type ClusterBus } from '../cluster-bus.js';
import type { DeviceDirectory, DirectoryChange } from '../fleet/directory.js';
import type { Spool } from '../../shared/spool.js';
import { Bridge, type Endpoint } from './bridge.js';
import { CHILD_USER_PREFIX } from './children.js';
import { Collector } from './collector.js';
import type { TopicMapping } from './mapping.js';
import { significantKey } from './significant.js';

export interface ParentLink {
  url: string;
  token: string;
}

export interface FederationOptions {
  cluster: string;
  version: string;
  parent?: ParentLink;
  /** Minimum time between two summaries sent upward. */
  summaryMs: number;
  log: Logger;
}

export interface FederationDeps {
  /** The coordinator's own client on its cluster broker (ClusterBus). */
  client: MqttClient;
  bus: ClusterBus;
  /** How the bridge reaches the cluster broker (internal credentials, or the external broker's). */
  local: Endpoint;
  /** The bridge's on-disk uplink spool (openUplinkSpool); present when there is a parent. */
  spool?: Spool;
  /** What this coordinator knows of devices, own and below; the uplink reads it, the intake writes its view below. */
  directory: DeviceDirectory;
  stats: { invalidMessages: number };
  /** Stores and publishes a desired spec for this cluster's own devices (coordinator/desired): revisions or errors per device. */
  applyDesired(devices: string[], op: Extract<RequestOp, { type: 'desired' }>): Promise<{ revisions: Record<string, number>; errors: Record<string, string> }>;
  /** The desired state stored for one of this cluster's own devices. */
  desiredOf(id: string): DesiredMessage | undefined;
  /** The health history ring of one of this cluster's own devices (coordinator/dashboard). */
  historyOf(id: string): DeviceHistory;
}

/** The mappings every child→parent bridge uses (docs/federation.md): up is copied up, down is copied down, never back. */
export function federationMappings(name: string): TopicMapping[] {
  return [
    { pattern: '#', direction: 'out', qos: 1, localPrefix: `${UP}/`, remotePrefix: `${UP}/${name}/`, retainKinds: RETAINED_UP_KINDS },
    { pattern: 'fetch', direction: 'out', qos: 1, localPrefix: `${LINK}/`, remotePrefix: `${LINK}/${name}/` },
    { pattern: '#', direction: 'in', qos: 1, localPrefix: `${DOWN}/`, remotePrefix: `${DOWN}/${name}/` },
    { pattern: 'module/+', direction: 'in', qos: 1, localPrefix: `${LINK}/`, remotePrefix: `${LINK}/${name}/` },
  ];
}

/** Time kept back at each hop so replies from below arrive before the requester above gives up. */
const HOP_MARGIN_MS = 150;
const lessHop = (budgetMs: number) => Math.max(1, budgetMs - HOP_MARGIN_MS);
/** Device changes are gathered this long before details go up (a burst of health reports makes one message). */
const DETAIL_FLUSH_MS = 50;

export class FederationStats {
  invalidUplink = 0;
  requestsHandled = 0;
}

/**
 * A coordinator's place in the tree: the bridge to its parent, the uplink (device details on change, events,
 * bounded-rate summaries), the view of the subtree below, and request routing (commands, detail, desired) down it.
 */
export class Federation {
  readonly stats = new FederationStats();
  readonly bridge: Bridge | undefined;
  private readonly collectors = new Map<string, { path: ClusterPath; collector: Collector; finish(): void }>();
  private readonly sentDetail = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private detailTimer: NodeJS.Timeout | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private lastSummaryAt = 0;
  private lastSummaryKey = '';
  private aliveTimer: NodeJS.Timeout | undefined;
  private lastAlive: number | null | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    readonly opts: FederationOptions,
    private readonly deps: FederationDeps,
  ) {
    const { client } = deps;
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
    client.subscribe([`${UP}/#`, downTopic([], 'req')], { qos: 1 });
    this.unsubscribe = deps.directory.onChange((change) => this.changed(change));
    if (opts.parent) {
      if (!deps.spool) throw new Error('a child coordinator needs an uplink spool');
      const name = opts.cluster;
      this.bridge = new Bridge({
        local: { ...deps.local, clientId: `$flotilla-bridge-${name}` },
        remote: { url: opts.parent.url, clientId: CHILD_USER_PREFIX + name, username: CHILD_USER_PREFIX + name, password: opts.parent.token },
        mappings: federationMappings(name),
        stateTopic: upTopic([name], UPLINK.bridgeState),
        spool: deps.spool,
        check: (topic, payload) => this.checkUplink(topic, payload),
        log: opts.log.child('bridge'),
      });
      // Everything the parent should know now; afterwards only changes.
      for (const id of deps.directory.ownIds()) this.dirty.add(id);
      this.scheduleDetails();
      this.aliveTimer = setInterval(() => this.sendAlive(), opts.summaryMs);
    }
  }

  private get view() {
    return this.deps.directory.below;
  }

  get isChild(): boolean {
    return this.bridge !== undefined;
  }

  // --- receiving from below ---

  private dispatch(topic: string, payload: Buffer): void {
    if (topic === downTopic([], 'req')) return void this.onRequest(payload);
    const parsed = parseFleetTopic(UP, topic);
    if (!parsed || parsed.path.length === 0) return; // our own uplink
    const { path, kind } = parsed;
    try {
      this.consume(path, kind, payload);
    } catch (err) {
      this.stats.invalidUplink++;
      this.deps.stats.invalidMessages++;
      this.opts.log.warn(`dropped invalid message on ${topic}: ${errorMessage(err)}`);
    }
  }

  /** Validate one uplink message (throws ValidationError naming the problem) and apply it to the view. */
  private consume(path: ClusterPath, kind: string[], payload: Buffer): void {
    const m = parseUplink(path, kind, payload);
    if (!m) return;
    switch (m.kind) {
      case 'summary':
        this.view.summary(path, m.msg);
        break;
      case 'alive':
        this.view.alive(path, m.msg);
        break;
      case 'bridge':
        this.view.bridge(path, m.msg);
        break;
      case 'reply':
        this.onReply(path, m.msg);
        break;
      case 'detail':
        this.view.detail(path, m.msg);
        break;
      case 'removed':
        this.view.remove(path, m.id);
        break;
      case 'event':
        this.view.event(path, m.id, m.msg);
        break;
    }
  }

  /** The bridge forwards only what the parent would accept: a child's malformed message stops here. */
  private checkUplink(topic: string, payload: Buffer): string | undefined {
    const parsed = parseFleetTopic(UP, topic);
    // Our own uplink and link requests are built from parsed values; only what children sent needs a check.
    if (!parsed) return topic.startsWith(`${UP}/`) ? 'not a cluster topic' : undefined;
    if (parsed.path.length === 0) return undefined;
    try {
      parseUplink(parsed.path, parsed.kind, payload);
      return undefined;
    } catch (err) {
      return errorMessage(err);
    }
  }

  // --- sending up ---

  private changed(change: DirectoryChange): void {
    if (!this.isChild) return;
    // A roll-up moved (ours or below): a summary follows, after the details of a pending flush.
    if (change.kind === 'clusters') return void (this.detailTimer || this.scheduleSummary());
    if (change.kind === 'remote' || change.kind === 'remote_event') return;
    if (change.kind === 'removed') {
      // Clearing the retained detail tells every coordinator above that the device is gone.
      this.dirty.delete(change.id);
      this.sentDetail.delete(change.id);
      this.deps.client.publish(upTopic([], UPLINK.detail(change.id)), Buffer.alloc(0), { qos: 1, retain: true });
      return;
    }
    this.dirty.add(change.id);
    if (change.kind === 'event') {
      // The parent files events under a device it knows: a first-ever detail goes ahead of the event.
      if (!this.sentDetail.has(change.id)) this.sendDetail(change.id);
      this.publishUp(UPLINK.events(change.id), change.event, false);
    }
    this.scheduleDetails();
  }

  private sendDetail(id: string): void {
    const detail = this.deps.directory.ownSummary(id);
    if (!detail) return;
    const key = significantKey(detail);
    if (this.sentDetail.get(id) === key) return;
    this.sentDetail.set(id, key);
    this.publishUp(UPLINK.detail(id), detail, true);
  }

  private publishUp(kind: string, message: unknown, retain: boolean): void {
    this.deps.client.publish(upTopic([], kind), encode(message), { qos: 1, retain });
  }

  private scheduleDetails(): void {
    this.detailTimer ??= setTimeout(() => {
      this.detailTimer = undefined;
      for (const id of this.dirty) this.sendDetail(id);
      this.dirty.clear();
      this.scheduleSummary();
    }, DETAIL_FLUSH_MS);
  }

  /** At most one summary per `summaryMs`, and only when it changed. */
  private scheduleSummary(): void {
    if (!this.isChild || this.summaryTimer) return;
    const wait = Math.max(0, this.lastSummaryAt + this.opts.summaryMs - Date.now());
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = undefined;
      const { own, subtree } = this.deps.directory.rollup();
      const key = JSON.stringify([own, subtree]);
      if (key === this.lastSummaryKey) return;
      this.lastSummaryKey = key;
      this.lastSummaryAt = Date.now();
      const msg: SummaryMessage = { ts: Date.now(), cluster: this.opts.cluster, coordinatorVersion: this.opts.version, own, subtree };
      this.publishUp(UPLINK.summary, msg, true);
    }, wait);
  }

  /**
   * Vouch for our online devices in one message (AliveMessage), at most once per summary interval and only when it
   * moved: the parent's view of their last-seen stays honest while details go up only on significant changes.
   */
  private sendAlive(): void {
    let heardAt: number | null = null;
    for (const id of this.deps.directory.ownIds()) {
      const live = this.deps.directory.live.get(id);
      if (!live?.online || live.lastSeen === undefined) continue;
      heardAt = heardAt === null ? live.lastSeen : Math.min(heardAt, live.lastSeen);
    }
    if (heardAt === this.lastAlive) return;
    this.lastAlive = heardAt;
    this.publishUp(UPLINK.alive, { ts: Date.now(), heardAt } satisfies AliveMessage, true);
  }

  // --- requests down the tree ---

  private async onRequest(payload: Buffer): Promise<void> {
    let req: RequestMessage;
    try {
      req = decode(RequestMessage, payload, 'request from the parent');
    } catch (err) {
      this.deps.stats.invalidMessages++;
      this.opts.log.warn(`dropped invalid request: ${errorMessage(err)}`);
      return;
    }
    const reply = await this.handle(req);
    this.publishUp(UPLINK.reply, reply, false);
  }

  /** Handle a request addressed to this cluster: its own devices now, its children by forwarding. */
  private async handle(req: RequestMessage): Promise<ReplyMessage> {
    this.stats.requestsHandled++;
    const reply: ReplyMessage = { id: req.id, acks: {}, errors: {}, forwardedTo: [], unreachable: [] };
    const budget = req.budgetMs;
    if (req.target.scope === 'subtree') {
      for (const child of this.view.children()) {
        if (!child.up) {
          reply.unreachable.push(child.name);
          continue;
        }
        const forward: RequestMessage = { ...req, budgetMs: lessHop(budget) };
        this.deps.client.publish(downTopic([child.name], 'req'), encode(forward), { qos: 1 });
        reply.forwardedTo.push(child.name);
      }
    }
    const { directory } = this.deps;
    const devices = req.target.scope === 'device' ? [req.target.device] : directory.ownIds();
    const known = devices.filter((id) => {
      if (directory.isLocal(id)) return true;
      reply.errors[id] = `no device "${id}" in cluster ${this.opts.cluster}`;
      return false;
    });
    const { op } = req;
    if (op.type === 'detail') {
      if (known[0] !== undefined) reply.detail = directory.detail(known[0]);
    } else if (op.type === 'command') {
      await Promise.all(
        known.map(async (id) => {
          if (req.target.scope !== 'device' && !directory.live.get(id)?.online) return void (reply.errors[id] = 'offline');
          try {
            reply.acks[id] = await this.deps.bus.send(id, op.command, budget);
          } catch (err) {
            reply.errors[id] = err instanceof CommandTimeoutError ? err.message : errorMessage(err);
          }
        }),
      );
    } else if (op.type === 'desired') {
      const { revisions, errors } = await this.deps.applyDesired(known, op);
      // A retained desired state needs no device ack: the "ack" is the revision the device will pick up, even when offline.
      for (const [id, revision] of Object.entries(revisions)) reply.acks[id] = { id: req.id, ok: true, ts: Date.now(), result: { revision } };
      Object.assign(reply.errors, errors);
    } else if (op.type === 'get_desired') {
      if (known[0] !== undefined) reply.desired = this.deps.desiredOf(known[0]);
    } else if (op.type === 'history') {
      if (known[0] !== undefined) reply.history = this.deps.historyOf(known[0]);
    }
    return reply;
  }

  /**
   * Route a request to `path` (relative; `[]` = this cluster) and collect every reply, waiting at most
   * `timeoutMs`; clusters that did not answer in time are listed as unreachable.
   */
  request(path: ClusterPath, target: RequestScope, op: RequestOp, timeoutMs: number): Promise<{ result: FanoutResult; detail?: DeviceDetail; desired?: DesiredMessage; history?: DeviceHistory }> {
    const req: RequestMessage = { id: randomUUID(), budgetMs: timeoutMs, target, op };
    const collector = new Collector(path);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.collectors.delete(req.id);
        resolve({ result: collector.expire(), detail: collector.detail, desired: collector.desired, history: collector.history });
      };
      // Locally the devices get the whole budget; the margin lets our own reply land before we give up.
      const timer = setTimeout(finish, path.length === 0 ? timeoutMs + HOP_MARGIN_MS : timeoutMs);
      this.collectors.set(req.id, { path, collector, finish });
      if (path.length === 0) {
        this.handle(req).then((reply) => this.onReply([], reply));
      } else {
        this.deps.client.publish(downTopic(path, 'req'), encode({ ...req, budgetMs: lessHop(timeoutMs) }), { qos: 1 });
      }
    });
  }

  /** The health history of a device below (qualified id), from its own coordinator; undefined if it did not answer. */
  async remoteHistory(qid: string, timeoutMs = 3000): Promise<DeviceHistory | undefined> {
    const { path, id } = splitQualifiedId(qid);
    const { history } = await this.request(path, { scope: 'device', device: id }, { type: 'history' }, timeoutMs);
    return history && { ...history, id: qid };
  }

  private onReply(path: ClusterPath, reply: ReplyMessage): void {
    const pending = this.collectors.get(reply.id);
    if (!pending) return; // someone else's request passing through on its way up
    if (pending.collector.add(path, reply) && pending.collector.done) pending.finish();
  }

  async close(): Promise<void> {
    this.unsubscribe();
    clearTimeout(this.detailTimer);
    clearTimeout(this.summaryTimer);
    clearInterval(this.aliveTimer);
    for (const c of this.collectors.values()) c.finish();
    await this.bridge?.close();
  }

  /** Device ack of a single-device request, or the error that explains its absence. */
  static single(result: FanoutResult, qid: string): { ack?: AckMessage; error?: string } {
    return { ack: result.acks[qid], error: result.errors[qid] ?? (result.unreachable.length ? `cluster ${result.unreachable.join(', ')} did not answer` : undefined) };
  }
}

type Uplink =
  | { kind: 'summary'; msg: SummaryMessage }
  | { kind: 'alive'; msg: AliveMessage }
  | { kind: 'bridge'; msg: BridgeStateMessage }
  | { kind: 'reply'; msg: ReplyMessage }
  | { kind: 'detail'; msg: DeviceSummary }
  | { kind: 'removed'; id: string }
  | { kind: 'event'; id: string; msg: EventMessage };

/**
 * Parse an uplink message by its kind levels: a cleared device detail means the device was removed; undefined for
 * another cleared retained message. Throws on anything invalid.
 */
export function parseUplink(path: ClusterPath, kind: string[], payload: Buffer): Uplink | undefined {
  const where = path.join('/');
  const k = kind.join('/');
  if (payload.length === 0 && kind[0] === 'd' && kind.length === 3 && kind[2] === 'detail') return { kind: 'removed', id: kind[1] };
  if (payload.length === 0 && RETAINED_UP_KINDS.includes(kind[kind.length - 1])) return undefined;
  if (k === UPLINK.summary) return { kind: 'summary', msg: decode(SummaryMessage, payload, `summary of ${where}`) };
  if (k === UPLINK.alive) return { kind: 'alive', msg: decode(AliveMessage, payload, `alive of ${where}`) };
  if (k === UPLINK.bridgeState) return { kind: 'bridge', msg: decode(BridgeStateMessage, payload, `bridge state of ${where}`) };
  if (k === UPLINK.reply) return { kind: 'reply', msg: decode(ReplyMessage, payload, `reply from ${where}`) };
  if (kind[0] === 'd' && kind.length === 3 && kind[2] === 'detail') {
    const msg = decode(DetailMessage, payload, `detail of ${where}/${kind[1]}`);
    if (msg.id !== kind[1]) throw new ValidationError(`detail of ${where}/${kind[1]}: id "${msg.id}" does not match its topic`);
    return { kind: 'detail', msg };
  }
  if (kind[0] === 'd' && kind.length === 3 && kind[2] === 'events') return { kind: 'event', id: kind[1], msg: decode(UpEventMessage, payload, `event of ${where}/${kind[1]}`) };
  throw new ValidationError(`unknown uplink kind "${k}" from ${where}`);
}
