import type { LogLine } from '../../shared/logs.js';
import type { DeviceHistory } from '../../shared/stream.js';
import type { DeviceDirectory } from '../fleet/directory.js';
import { HttpError, type RouteContext, type Router } from '../http/router.js';
import { HealthHistory } from './history.js';
import { StaticAssets } from './static-assets.js';
import { LiveStream } from './stream.js';

export { HealthHistory, HealthRing, HISTORY_WINDOW_S } from './history.js';
export { LiveFeed } from './live-feed.js';
export { StaticAssets, DASHBOARD_DIR } from './static-assets.js';

export interface DashboardDeps {
  cluster: string;
  router: Router;
  /** What the page shows, and its one change feed. */
  directory: DeviceDirectory;
  /**
   * History of a device of a child cluster (qualified id), asked of its own coordinator: undefined for an id that is
   * not such a device; the promise gives undefined when that cluster did not answer.
   */
  remoteHistory?(id: string): Promise<DeviceHistory | undefined> | undefined;
  /** Log lines as this cluster keeps them (coordinator/logs), for the device pages that ask (`?logs=ID`). */
  logs?: { onLine(listener: (id: string, line: LogLine) => void): () => void };
  /** Where the built page lives (default: dist/dashboard). */
  assetsDir?: string;
  flushMs?: number;
  heartbeatMs?: number;
}

export interface Dashboard {
  stream: LiveStream;
  history: HealthHistory;
  /** False when the page was not built; the API routes work regardless. */
  servesPage: boolean;
  close(): void;
}

/**
 * Mount the dashboard on a coordinator's router: the page at `/` and `/assets/*`, the live channel at
 * `/api/v1/stream` and health history at `/api/v1/devices/:id/history` (both under the API token, docs/api.md).
 */
export function mountDashboard(deps: DashboardDeps): Dashboard {
  const { directory } = deps;
  const history = new HealthHistory();
  const stream = new LiveStream({ cluster: deps.cluster, summary: (id) => directory.summary(id), flushMs: deps.flushMs, heartbeatMs: deps.heartbeatMs });
  const unsubscribe = directory.onChange((change) => {
    if (change.kind === 'health') history.record(change.id, change.health);
    else if (change.kind === 'removed') history.forget(change.id);
    stream.change(change);
  });
  const unsubscribeLogs = deps.logs?.onLine((id, line) => stream.logLine(id, line));

  deps.router.add('GET', '/api/v1/stream', ({ req, res, url }) => {
    stream.open(req, res, url.searchParams.get('logs') ?? undefined);
    return undefined;
  });
  deps.router.add('GET', '/api/v1/devices/:id/history', async ({ params }): Promise<{ body: DeviceHistory }> => {
    if (!directory.summary(params.id)) throw new HttpError(404, `no device "${params.id}" in cluster ${deps.cluster}`);
    const remote = deps.remoteHistory?.(params.id);
    if (!remote) return { body: history.get(params.id) };
    const body = await remote;
    if (!body) throw new HttpError(504, `the cluster of device "${params.id}" did not answer`);
    return { body };
  });

  const assets = StaticAssets.load(deps.assetsDir);
  if (assets) {
    const page = ({ req, res, url }: RouteContext) => {
      if (!assets.serve(url.pathname, req, res)) throw new HttpError(404, `no such asset: ${url.pathname}`);
      return undefined;
    };
    deps.router.add('GET', '/', page);
    deps.router.add('GET', '/assets/:name', page);
  }

  return {
    stream,
    history,
    servesPage: assets !== undefined,
    close() {
      unsubscribe();
      unsubscribeLogs?.();
      stream.close();
    },
  };
}
