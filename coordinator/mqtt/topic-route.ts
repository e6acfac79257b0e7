import { DOWN, LINK, UP, parseFleetTopic, type ClusterPath } from '../../shared/fleet-topics.js';
import { ROOT } from '../../shared/topics.js';

/**
 * What one topic on the cluster broker is, parsed once (coordinator/mqtt/dispatch.ts routes by `kind`):
 * - `device`: `flotilla/d/<id>/<level>[/…]`, what agents send (status, health, events, logs, ack) and what is sent to them;
 * - `device_fetch`: `flotilla/d/<id>/fetch`, an agent asking for a module;
 * - `up`: `flotilla/up/<path>/<kind…>`, the uplink of a cluster below (path non-empty) or our own (path empty);
 * - `request`: `flotilla/down/req`, a request from the parent (or from ourselves for our own cluster);
 * - `revocations`: `flotilla/down/keys/revoked`, the parent's revoked keys (shared/revocations.ts);
 * - `child_fetch`: `flotilla/link/<child>/fetch`, a child coordinator asking for a module;
 * - `module_reply`: `flotilla/link/module/<sha256>`, the parent answering our module fetch.
 * `label` is the bounded metric label of the topic (one per kind and level, never an id).
 */
export type TopicRoute =
  | { kind: 'device'; id: string; level: string; label: string }
  | { kind: 'device_fetch'; id: string; label: 'd/fetch' }
  | { kind: 'up'; path: ClusterPath; levels: string[]; label: string }
  | { kind: 'request'; label: 'down/req' }
  | { kind: 'revocations'; label: 'down/revoked' }
  | { kind: 'child_fetch'; child: string; label: 'link/fetch' }
  | { kind: 'module_reply'; label: 'link/module' };

export type RouteKind = TopicRoute['kind'];

const DEVICE_LEVELS = new Set(['status', 'health', 'events', 'logs', 'ack', 'cmd', 'desired', 'out', 'fetch', 'module']);

export function routeTopic(topic: string): TopicRoute | undefined {
  const levels = topic.split('/');
  if (levels[0] !== ROOT || levels.length < 3) return undefined;
  switch (levels[1]) {
    case 'd': {
      const level = levels[3];
      if (level === undefined || !DEVICE_LEVELS.has(level)) return undefined;
      if (level !== 'out' && level !== 'module' && levels.length !== 4) return undefined;
      if (level === 'fetch') return { kind: 'device_fetch', id: levels[2], label: 'd/fetch' };
      return { kind: 'device', id: levels[2], level, label: `d/${level}` };
    }
    case 'up': {
      const parsed = parseFleetTopic(UP, topic);
      if (!parsed) return undefined;
      return { kind: 'up', path: parsed.path, levels: parsed.kind, label: `up/${parsed.kind.at(-1)}` };
    }
    case 'down':
      if (topic === `${DOWN}/keys/revoked`) return { kind: 'revocations', label: 'down/revoked' };
      return topic === `${DOWN}/req` ? { kind: 'request', label: 'down/req' } : undefined;
    case 'link':
      if (topic.startsWith(`${LINK}/module/`) && levels.length === 4) return { kind: 'module_reply', label: 'link/module' };
      if (levels.length === 4 && levels[3] === 'fetch') return { kind: 'child_fetch', child: levels[2], label: 'link/fetch' };
      return undefined;
  }
  return undefined;
}

/** The metric label of any topic this coordinator publishes or receives (bounded: `other` for the rest). */
export function topicLabel(topic: string): string {
  const route = routeTopic(topic);
  if (route) return route.label;
  // Our own sends that no subscriber of ours routes: requests down to children, module replies to them.
  if (topic.startsWith(`${DOWN}/`) && topic.endsWith('/req')) return 'down/req';
  if (topic.startsWith(`${LINK}/`) && topic.split('/').at(-2) === 'module') return 'link/module';
  return 'other';
}
