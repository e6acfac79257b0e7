import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, ROOT, isValidFilter, isValidTopicName, parseDeviceTopic } from '../../shared/topics.js';

/**
 * Who is on the other end of a broker connection, decided once at CONNECT:
 * - `device`: an enrolled agent, confined to its own subtree `flotilla/d/<id>/...` plus user data outside `flotilla/`;
 * - `internal`: the coordinator's own client (full access).
 */
export type Principal = { kind: 'device'; id: string } | { kind: 'internal' };

export type Verdict = { ok: true } | { ok: false; reason: string };

const allow: Verdict = { ok: true };
const deny = (reason: string): Verdict => ({ ok: false, reason });

const PUBLISH_KINDS = new Set<string>(DEVICE_PUBLISHES);
const SUBSCRIBE_KINDS = new Set<string>(DEVICE_SUBSCRIBES);

/** May this principal publish to `topic`? Device A can never publish as device B. */
export function authorizePublish(who: Principal, topic: string): Verdict {
  if (who.kind === 'internal') return allow;
  if (!isValidTopicName(topic)) return deny(`invalid topic name "${topic}"`);
  if (topic.startsWith('$')) return deny(`"${topic}" is reserved for the broker`);
  const first = topic.split('/', 1)[0];
  if (first !== ROOT) return allow; // user data space: sensor readings, absolute step outputs
  const parsed = parseDeviceTopic(topic);
  if (!parsed || parsed.deviceId !== who.id) return deny(`device ${who.id} may not publish to "${topic}"`);
  if (!PUBLISH_KINDS.has(parsed.kind)) return deny(`device ${who.id} may not publish to its ${parsed.kind} topic`);
  return allow;
}

/**
 * May this principal subscribe to `filter`? A device reads its own commands and desired spec, any device's step
 * outputs (`flotilla/d/+/out/...`), and user data outside `flotilla/`. A filter that could match anything else
 * (for example `#`, `+/d/+/cmd`, `flotilla/d/other/cmd`) is refused as a whole rather than narrowed.
 */
export function authorizeSubscribe(who: Principal, filter: string): Verdict {
  if (who.kind === 'internal') return allow;
  if (!isValidFilter(filter)) return deny(`invalid topic filter "${filter}"`);
  const levels = filter.split('/');
  const first = levels[0];
  if (first === '#' || first === '+') return deny(`filter "${filter}" could match Flotilla's control topics`);
  if (first.startsWith('$')) return deny(`"${filter}" is reserved for the broker`);
  if (first !== ROOT) return allow;
  if (levels[1] !== 'd' || levels.length < 4) return deny(`device ${who.id} may not subscribe to "${filter}"`);
  const [, , device, kind] = levels;
  if (kind === 'out') return device === '#' ? deny(`filter "${filter}" is too wide`) : allow;
  if (device === who.id && SUBSCRIBE_KINDS.has(kind) && levels.length === 4) return allow;
  return deny(`device ${who.id} may not subscribe to "${filter}"`);
}
