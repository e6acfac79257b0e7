import { z } from 'zod';
import { ID_PATTERN } from './ids.js';
import { ROOT } from './topics.js';

/**
 * The federated topic namespace (docs/federation.md). Three disjoint spaces on every coordinator's broker:
 * - `flotilla/up/<path…>/<kind…>`: what flows toward the root. A coordinator writes its own uplink data at
 *   `flotilla/up/<kind…>`; its bridge re-publishes everything under `flotilla/up/` on the parent as
 *   `flotilla/up/<name>/…`, so at the root a message carries the full cluster path of where it came from.
 * - `flotilla/down/<path…>/<kind…>`: what flows away from the root. A child's bridge subscribes to
 *   `flotilla/down/<name>/#` on its parent and re-publishes it locally without its own name.
 * - `flotilla/link/<name>/…`: one hop only (module fetches), never forwarded further.
 * Loop prevention rests on the split: the up space is only ever copied upward and the down space only downward.
 */
export const UP = `${ROOT}/up`;
export const DOWN = `${ROOT}/down`;
export const LINK = `${ROOT}/link`;

/** Topic levels that end a cluster path; a cluster may not be named like one. */
export const RESERVED_LEVELS = new Set(['d', 'summary', 'alive', 'bridge', 'reply', 'req', 'fetch', 'module', 'rollout']);

export const ClusterName = z
  .string()
  .regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit')
  .refine((n) => !RESERVED_LEVELS.has(n), `must not be one of the reserved topic levels ${[...RESERVED_LEVELS].join(', ')}`);

/** A cluster path relative to some coordinator: `[]` is that coordinator itself, `['eu','site1']` a grandchild. */
export type ClusterPath = string[];

export const upTopic = (path: ClusterPath, ...kind: string[]): string => [UP, ...path, ...kind].join('/');
export const downTopic = (path: ClusterPath, ...kind: string[]): string => [DOWN, ...path, ...kind].join('/');
export const linkTopic = (child: string | undefined, ...kind: string[]): string => [LINK, ...(child ? [child] : []), ...kind].join('/');

/** Uplink kinds a coordinator publishes at `flotilla/up/…` (relative to itself). */
export const UPLINK = {
  summary: 'summary',
  alive: 'alive',
  bridgeState: 'bridge/state',
  reply: 'reply',
  /** A cluster's report on its share of a rollout (shared/rollout.ts ShareReportMessage), not retained. */
  rollout: 'rollout',
  detail: (id: string) => `d/${id}/detail`,
  events: (id: string) => `d/${id}/events`,
} as const;

/** The last levels of the uplink topics whose latest value is state (published retained). */
export const RETAINED_UP_KINDS = ['summary', 'alive', 'state', 'detail'];

export interface ParsedFleetTopic {
  path: ClusterPath;
  /** The levels after the path, starting at a reserved level: `['summary']`, `['d','x','detail']`, … */
  kind: string[];
}

/** Split a topic under `prefix` into cluster path and kind; undefined when it is not one. */
export function parseFleetTopic(prefix: string, topic: string): ParsedFleetTopic | undefined {
  if (!topic.startsWith(prefix + '/')) return undefined;
  const levels = topic.slice(prefix.length + 1).split('/');
  const at = levels.findIndex((l) => RESERVED_LEVELS.has(l));
  if (at < 0) return undefined;
  const path = levels.slice(0, at);
  if (!path.every((p) => ClusterName.safeParse(p).success)) return undefined;
  return { path, kind: levels.slice(at) };
}

/** `eu/site1/x` → path `['eu','site1']`, device `x`. A plain id is a device of this coordinator. */
export function splitQualifiedId(qualified: string): { path: ClusterPath; id: string } {
  const levels = qualified.split('/');
  return { path: levels.slice(0, -1), id: levels[levels.length - 1] };
}

export const qualifyId = (path: ClusterPath, id: string): string => [...path, id].join('/');
