import { devicePublishProblem, topicNameProblem } from '../../shared/device-acl.js';
import { DOWN, LINK, UP } from '../../shared/fleet-topics.js';
import { isModuleFilter } from '../../shared/module-fetch.js';
import { REVOKED_TOPIC } from '../../shared/revocations.js';
import { DEVICE_SUBSCRIBES, ROOT, isValidFilter } from '../../shared/topics.js';

/**
 * Who is on the other end of a broker connection, decided once at CONNECT:
 * - `device`: an enrolled agent, confined to its own subtree `flotilla/d/<id>/...` plus user data outside `flotilla/`;
 * - `child`: a child coordinator's bridge, confined to its own subtree: it publishes under `flotilla/up/<name>/`
 *   and `flotilla/link/<name>/fetch`, and reads only `flotilla/down/<name>/…`, its module replies and the
 *   revocation list;
 * - `internal`: the coordinator's own client (full access).
 */
export type Principal = { kind: 'device'; id: string } | { kind: 'child'; name: string } | { kind: 'internal' };

export type Verdict = { ok: true } | { ok: false; reason: string };

const allow: Verdict = { ok: true };
const deny = (reason: string): Verdict => ({ ok: false, reason });

const SUBSCRIBE_KINDS = new Set<string>(DEVICE_SUBSCRIBES);

/** May this principal publish to `topic`? Device A can never publish as device B. */
export function authorizePublish(who: Principal, topic: string): Verdict {
  if (who.kind === 'internal') return allow;
  if (who.kind === 'device') {
    const problem = devicePublishProblem(who.id, topic);
    return problem ? deny(problem) : allow;
  }
  const bad = topicNameProblem(topic);
  if (bad) return deny(bad);
  if (topic.startsWith(`${UP}/${who.name}/`) || topic === `${LINK}/${who.name}/fetch`) return allow;
  return deny(`child ${who.name} may only publish in its own subtree, not to "${topic}"`);
}

/**
 * May this principal subscribe to `filter`? A device reads its own commands and desired spec, any device's step
 * outputs (`flotilla/d/+/out/...`), the revocation list (`flotilla/keys/revoked`) and user data outside `flotilla/`. A filter that could match anything else
 * (for example `#`, `+/d/+/cmd`, `flotilla/d/other/cmd`) is refused as a whole rather than narrowed.
 */
export function authorizeSubscribe(who: Principal, filter: string): Verdict {
  if (who.kind === 'internal') return allow;
  if (!isValidFilter(filter)) return deny(`invalid topic filter "${filter}"`);
  // The revocation list is read by every device and child, and published by the coordinator alone (its topic is
  // neither a device's own nor a child's uplink, so authorizePublish refuses both).
  if (filter === REVOKED_TOPIC) return allow;
  if (who.kind === 'child') {
    if (filter.startsWith(`${DOWN}/${who.name}/`) || isModuleFilter(filter, `${LINK}/${who.name}`)) return allow;
    return deny(`child ${who.name} may only read what is addressed to it, not "${filter}"`);
  }
  if (isModuleFilter(filter, `${ROOT}/d/${who.id}`)) return allow;
  const levels = filter.split('/');
  const first = levels[0];
  if (first === '#' || first === '+') return deny(`filter "${filter}" could match Flotilla's control topics`);
  if (first.startsWith('$')) return deny(`"${filter}" is reserved for the broker`);
  if (first !== ROOT) return allow;
  if (levels[1] !== 'd' || levels.length < 4) return deny(`device ${who.id} may not subscribe to "${filter}"`);
  const [, , device, kind] = levels;
  // Any device's step outputs (a `#` device level cannot get here: `#` is only valid as the last level).
  if (kind === 'out') return allow;
  if (device === who.id && SUBSCRIBE_KINDS.has(kind) && levels.length === 4) return allow;
  return deny(`device ${who.id} may not subscribe to "${filter}"`);
}
