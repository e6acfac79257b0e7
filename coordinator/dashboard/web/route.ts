import { NO_FILTER, type Filter } from './fleet-view.js';

/** Hash routes: `#/` (overview, filter in the query), `#/device/<id>`, `#/cluster/<path>`, `#/rollouts`. Ids are URI-encoded. */
export type Route = { view: 'overview'; filter: Filter } | { view: 'device'; id: string } | { view: 'cluster'; path: string } | { view: 'rollouts' };

const STATES = new Set(['ok', 'degraded', 'offline', 'unknown']);

export function parseRoute(hash: string): Route {
  const [path, query = ''] = hash.replace(/^#/, '').split('?', 2);
  const parts = path.split('/').filter(Boolean);
  try {
    if (parts[0] === 'device' && parts[1]) return { view: 'device', id: decodeURIComponent(parts[1]) };
    if (parts[0] === 'cluster' && parts[1]) return { view: 'cluster', path: decodeURIComponent(parts[1]) };
    if (parts[0] === 'rollouts') return { view: 'rollouts' };
  } catch {
    // A malformed escape: fall through to the overview.
  }
  const q = new URLSearchParams(query);
  const state = q.get('state') ?? '';
  return {
    view: 'overview',
    filter: {
      q: q.get('q') ?? '',
      cluster: q.get('cluster') ?? '',
      arch: q.get('arch') ?? '',
      state: STATES.has(state) ? (state as Filter['state']) : '',
      step: q.get('step') ?? '',
      select: q.get('select') ?? '',
    },
  };
}

export const href = {
  overview: (filter: Partial<Filter> = {}) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...NO_FILTER, ...filter })) if (v) q.set(k, v);
    const s = q.toString();
    return s ? `#/?${s}` : '#/';
  },
  device: (id: string) => `#/device/${encodeURIComponent(id)}`,
  cluster: (path: string) => `#/cluster/${encodeURIComponent(path)}`,
  rollouts: () => '#/rollouts',
};
