import type { DeviceSummary } from '../../shared/api.js';
import { ValidationError, errorMessage } from '../../shared/errors.js';
import { AliveMessage, BridgeStateMessage, DetailMessage, ReplyMessage, SummaryMessage, UpEventMessage } from '../../shared/federation.js';
import { RETAINED_UP_KINDS, UPLINK, type ClusterPath } from '../../shared/fleet-topics.js';
import type { Logger } from '../../shared/log.js';
import { decode, type EventMessage } from '../../shared/messages.js';
import { ShareReportMessage } from '../../shared/rollout.js';
import type { SubtreeView } from '../fleet/subtree-view.js';
import type { TopicRoute } from '../mqtt/topic-route.js';
import type { ParseOnce } from './parse-once.js';

export type Uplink =
  | { kind: 'summary'; msg: SummaryMessage }
  | { kind: 'alive'; msg: AliveMessage }
  | { kind: 'bridge'; msg: BridgeStateMessage }
  | { kind: 'reply'; msg: ReplyMessage }
  | { kind: 'rollout'; msg: ShareReportMessage }
  | { kind: 'detail'; msg: DeviceSummary }
  | { kind: 'removed'; id: string }
  | { kind: 'event'; id: string; msg: EventMessage };

/**
 * Parse an uplink message by its kind levels: a cleared device detail means the device was removed; undefined for
 * another cleared retained message. Throws a ValidationError naming the problem on anything invalid.
 */
export function parseUplink(path: ClusterPath, kind: string[], payload: Buffer): Uplink | undefined {
  const where = path.join('/');
  const k = kind.join('/');
  const device = kind[0] === 'd' && kind.length === 3;
  if (payload.length === 0 && device && kind[2] === 'detail') return { kind: 'removed', id: kind[1] };
  if (payload.length === 0 && RETAINED_UP_KINDS.includes(kind[kind.length - 1])) return undefined;
  if (k === UPLINK.summary) return { kind: 'summary', msg: decode(SummaryMessage, payload, `summary of ${where}`) };
  if (k === UPLINK.alive) return { kind: 'alive', msg: decode(AliveMessage, payload, `alive of ${where}`) };
  if (k === UPLINK.bridgeState) return { kind: 'bridge', msg: decode(BridgeStateMessage, payload, `bridge state of ${where}`) };
  if (k === UPLINK.reply) return { kind: 'reply', msg: decode(ReplyMessage, payload, `reply from ${where}`) };
  if (k === UPLINK.rollout) return { kind: 'rollout', msg: decode(ShareReportMessage, payload, `rollout report from ${where}`) };
  if (device && kind[2] === 'detail') {
    const msg = decode(DetailMessage, payload, `detail of ${where}/${kind[1]}`);
    if (msg.id !== kind[1]) throw new ValidationError(`detail of ${where}/${kind[1]}: id "${msg.id}" does not match its topic`);
    return { kind: 'detail', msg };
  }
  if (device && kind[2] === 'events') return { kind: 'event', id: kind[1], msg: decode(UpEventMessage, payload, `event of ${where}/${kind[1]}`) };
  throw new ValidationError(`unknown uplink kind "${k}" from ${where}`);
}

/**
 * What comes up from the clusters below (`flotilla/up/<path>/…`), parsed once (ParseOnce shares the parse with the
 * bridge's check) and applied to the directory's view below; replies go to the requester that waits for them.
 */
export class Intake {
  constructor(
    private readonly deps: {
      view: SubtreeView;
      parser: ParseOnce;
      onReply(path: ClusterPath, reply: ReplyMessage): void;
      /** A cluster's report on its share of a rollout (for the rollout's owner, if it is this coordinator). */
      onRolloutReport(path: ClusterPath, msg: ShareReportMessage): void;
      /** A message was dropped as invalid (counted by the caller). */
      onInvalid(): void;
      log: Logger;
    },
  ) {}

  handle(route: Extract<TopicRoute, { kind: 'up' }>, payload: Buffer, topic: string): void {
    const { path } = route;
    if (path.length === 0) return; // our own uplink
    let m: Uplink | undefined;
    try {
      m = this.deps.parser.parse(topic, payload, () => parseUplink(path, route.levels, payload));
    } catch (err) {
      this.deps.onInvalid();
      this.deps.log.warn(`dropped invalid message on ${topic}: ${errorMessage(err)}`);
      return;
    }
    if (m) this.apply(path, m);
  }

  private apply(path: ClusterPath, m: Uplink): void {
    const { view } = this.deps;
    switch (m.kind) {
      case 'summary':
        return view.summary(path, m.msg);
      case 'alive':
        return view.alive(path, m.msg);
      case 'bridge':
        return view.bridge(path, m.msg);
      case 'reply':
        return this.deps.onReply(path, m.msg);
      case 'rollout':
        return this.deps.onRolloutReport(path, m.msg);
      case 'detail':
        return view.detail(path, m.msg);
      case 'removed':
        return view.remove(path, m.id);
      case 'event':
        return view.event(path, m.id, m.msg);
    }
  }
}
