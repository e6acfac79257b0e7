import type { MqttClient } from 'mqtt';
import type { RequestOp, RequestScope } from '../../shared/federation.js';
import { DOWN, LINK, RETAINED_UP_KINDS, UP, UPLINK, downTopic, parseFleetTopic, splitQualifiedId, upTopic, type ClusterPath } from '../../shared/fleet-topics.js';
import type { LabelPatch } from '../../shared/labels.js';
import type { AckMessage } from '../../shared/messages.js';
import type { Logger } from '../../shared/log.js';
import { ROOT } from '../../shared/topics.js';
import { errorMessage } from '../../shared/errors.js';
import type { DeviceHistory } from '../../shared/stream.js';
import type { DeviceLogs, LogQuery } from '../../shared/logs.js';
import type { DeviceDirectory } from '../fleet/directory.js';
import type { CoordinatorMetrics } from '../metrics/metrics.js';
import type { Dispatch } from '../mqtt/dispatch.js';
import type { Spool } from '../../shared/spool.js';
import type { ShareReportMessage } from '../../shared/rollout.js';
import { Bridge, type Endpoint } from './bridge.js';
import { CHILD_USER_PREFIX } from './children.js';
import { Intake, parseUplink } from './intake.js';
import type { TopicMapping } from './mapping.js';
import { ParseOnce } from './parse-once.js';
import type { RequestDeps } from './requests/index.js';
import { Requester, type RequestAnswer } from './requester.js';
import { Uplink } from './uplink.js';

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

export interface FederationDeps extends Omit<RequestDeps, 'cluster'> {
  /** The coordinator's own client on its cluster broker, and its one message dispatch. */
  client: MqttClient;
  dispatch: Dispatch;
  /** How the bridge reaches the cluster broker (internal credentials, or the external broker's). */
  local: Endpoint;
  /** The bridge's on-disk uplink spool (openUplinkSpool); present when there is a parent. */
  spool?: Spool;
  directory: DeviceDirectory;
  metrics: CoordinatorMetrics;
  /** A cluster below reported on its share of a rollout (coordinator/rollouts: for the owner, if it is us). */
  onRolloutReport(path: ClusterPath, msg: ShareReportMessage): void;
}

/** The mappings every child→parent bridge uses (docs/federation.md): up is copied up, down is copied down, never back. */
export function federationMappings(name: string): TopicMapping[] {
  return [
    { pattern: '#', direction: 'out', qos: 1, localPrefix: `${UP}/`, remotePrefix: `${UP}/${name}/`, retainKinds: RETAINED_UP_KINDS },
    { pattern: 'fetch', direction: 'out', qos: 1, localPrefix: `${LINK}/`, remotePrefix: `${LINK}/${name}/` },
    { pattern: '#', direction: 'in', qos: 1, localPrefix: `${DOWN}/`, remotePrefix: `${DOWN}/${name}/` },
    { pattern: 'module/+', direction: 'in', qos: 1, localPrefix: `${LINK}/`, remotePrefix: `${LINK}/${name}/` },
    // The parent's revoked keys (shared/revocations.ts): its retained list, for our coordinator to merge and hand down.
    { pattern: 'keys/revoked', direction: 'in', qos: 1, localPrefix: `${DOWN}/`, remotePrefix: `${ROOT}/`, retainKinds: ['revoked'] },
  ];
}

/**
 * A coordinator's place in the tree (docs/federation.md), one job per part: the intake (what comes up from below,
 * parsed once, into the device directory), the uplink (what goes up), the requester (requests down the tree, a
 * table of op handlers) and the bridge to the parent. Constructing it does no I/O; `start()` subscribes and connects.
 */
export class Federation {
  readonly bridge: Bridge | undefined;
  private readonly requester: Requester;
  private readonly uplink: Uplink | undefined;
  private readonly intake: Intake;

  constructor(
    readonly opts: FederationOptions,
    private readonly deps: FederationDeps,
  ) {
    const { client, directory, metrics } = deps;
    const log = opts.log;
    this.requester = new Requester({ ...deps, cluster: opts.cluster, children: () => directory.below.children(), log });
    const parser = new ParseOnce(opts.parent ? 2 : 1);
    this.intake = new Intake({ view: directory.below, parser, onReply: (path, reply) => this.requester.onReply(path, reply), onRolloutReport: deps.onRolloutReport, onInvalid: () => metrics.invalid.inc({ source: 'uplink' }), log });
    if (!opts.parent) return;
    if (!deps.spool) throw new Error('a child coordinator needs an uplink spool');
    const name = opts.cluster;
    this.uplink = new Uplink({ cluster: name, version: opts.version, summaryMs: opts.summaryMs, local: { ...deps.local, clientId: `$flotilla-uplink-${name}` }, log: log.child('uplink') }, client, directory);
    this.bridge = new Bridge({
      local: { ...deps.local, clientId: `$flotilla-bridge-${name}` },
      remote: { url: opts.parent.url, clientId: CHILD_USER_PREFIX + name, username: CHILD_USER_PREFIX + name, password: opts.parent.token },
      mappings: federationMappings(name),
      stateTopic: upTopic([name], UPLINK.bridgeState),
      spool: deps.spool,
      check: (topic, payload) => checkUplink(topic, payload, parser),
      metrics,
      log: log.child('bridge'),
    });
  }

  get isChild(): boolean {
    return this.bridge !== undefined;
  }

  /** Subscribe to what comes up from below and requests from above, then start the uplink and the bridge. */
  async start(): Promise<void> {
    const { dispatch, client } = this.deps;
    dispatch.on('up', (route, payload, topic) => this.intake.handle(route, payload, topic));
    dispatch.on('request', (_route, payload) => void this.requester.fromParent(payload));
    await client.subscribeAsync([`${UP}/#`, downTopic([], 'req')], { qos: 1 });
    await this.uplink?.start();
    this.bridge?.start();
  }

  /** Route a request to `path` (relative; `[]` = this cluster); see Requester.request. */
  request(path: ClusterPath, target: RequestScope, op: RequestOp, timeoutMs: number): Promise<RequestAnswer> {
    return this.requester.request(path, target, op, timeoutMs);
  }

  remoteHistory(qid: string, timeoutMs?: number): Promise<DeviceHistory | undefined> {
    return this.requester.remoteHistory(qid, timeoutMs);
  }

  remoteLogs(qid: string, query: LogQuery, timeoutMs?: number): Promise<DeviceLogs | undefined> {
    return this.requester.remoteLogs(qid, query, timeoutMs);
  }

  /** Change the labels of a device below (qualified id) at its own coordinator: its ack, or why there is none. */
  async remoteLabels(qid: string, patch: LabelPatch, timeoutMs = 5000): Promise<{ ack?: AckMessage; error?: string }> {
    const { path, id } = splitQualifiedId(qid);
    const { result } = await this.requester.request(path, { scope: 'device', device: id }, { type: 'labels', patch: Object.fromEntries(patch) }, timeoutMs);
    return Requester.single(result, qid);
  }

  static single = Requester.single;

  async stop(): Promise<void> {
    await this.uplink?.stop();
    this.requester.finishAll();
    await this.bridge?.close();
  }
}

/** The bridge forwards only what the parent would accept: a child's malformed message stops here. */
function checkUplink(topic: string, payload: Buffer, parser: ParseOnce): string | undefined {
  const parsed = parseFleetTopic(UP, topic);
  // Our own uplink and link requests are built from parsed values; only what children sent needs a check.
  if (!parsed) return topic.startsWith(`${UP}/`) ? 'not a cluster topic' : undefined;
  if (parsed.path.length === 0) return undefined;
  try {
    parser.parse(topic, payload, () => parseUplink(parsed.path, parsed.kind, payload));
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
