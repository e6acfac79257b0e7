import { describeZodError } from '../../shared/errors.js';
import { LogQuery, type DeviceLogs } from '../../shared/logs.js';
import { HttpError, type Router } from '../http/router.js';
import type { FleetLogs } from './fleet-logs.js';

export interface LogRouteDeps {
  cluster: string;
  logs: FleetLogs;
  /** Is `id` one of this cluster's own devices? */
  isLocal(id: string): boolean;
  /** Lines the device's agent reported it did not send (health `logsDropped`). */
  droppedAtAgent(id: string): number;
  /**
   * Logs of a device of a child cluster (qualified id), asked of its own coordinator: undefined for an id that is not
   * such a device; the promise gives undefined when that cluster did not answer.
   */
  remote?(id: string, query: LogQuery): Promise<DeviceLogs | undefined> | undefined;
}

/** `GET /api/v1/devices/:id/logs?step=&level=&since=&limit=` (docs/api.md "Logs"). */
export function addLogRoutes(router: Router, deps: LogRouteDeps): void {
  router.add('GET', '/api/v1/devices/:id/logs', async ({ params, url }): Promise<{ body: DeviceLogs }> => {
    const parsed = LogQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) throw new HttpError(400, `invalid query: ${describeZodError(parsed.error)}`);
    const { id } = params;
    if (deps.isLocal(id)) return { body: localLogs(deps, id, parsed.data) };
    const remote = deps.remote?.(id, parsed.data);
    if (!remote) throw new HttpError(404, `no device "${id}" in cluster ${deps.cluster}`);
    const body = await remote;
    if (!body) throw new HttpError(504, `the cluster of device "${id}" did not answer`);
    return { body };
  });
}

/** A local device's logs for `query`: what the route answers, and what a parent asking for them gets. */
export function localLogs(deps: Pick<LogRouteDeps, 'logs' | 'droppedAtAgent'>, id: string, query: LogQuery): DeviceLogs {
  return { id, lines: deps.logs.rings.query(id, query), droppedAtCoordinator: deps.logs.rings.dropped(id), droppedAtAgent: deps.droppedAtAgent(id) };
}
