import { DeviceId } from '../../shared/ids.js';
import { z } from 'zod';
import type { ClusterSummary, DeviceDetail, DeviceList, EnrollResponse } from '../../shared/api.js';
import { CommandBody } from '../../shared/messages.js';
import { CommandTimeoutError, type ClusterBus } from '../cluster-bus.js';
import { summarize, type FleetState } from '../fleet/fleet-state.js';
import type { Registry } from '../registry/registry.js';
import { HttpError, type Router } from './router.js';
import { readJson } from './server.js';

/** What the API needs from the running coordinator. */
export interface ApiDeps {
  cluster: string;
  version: string;
  startedAt: number;
  registry: Registry;
  fleet: FleetState;
  bus: ClusterBus;
  stats: { invalidMessages: number; deniedRequests: number };
  /** A device was enrolled or removed. */
  onEnrolled(id: string): void;
  onRemoved(id: string): void;
}

const EnrollBody = z.object({ id: DeviceId });
const CommandRequest = z.object({
  command: CommandBody,
  timeoutMs: z.number().int().min(1).max(120_000).default(10_000),
});

/** The documented HTTP API (docs/api.md) under /api/v1. */
export function addApiRoutes(router: Router, deps: ApiDeps): void {
  const deviceOr404 = (id: string) => {
    const record = deps.registry.get(id);
    if (!record) throw new HttpError(404, `no device "${id}" in cluster ${deps.cluster}`);
    return record;
  };

  router.add('GET', '/api/v1/devices', (): { body: DeviceList } => ({
    body: { devices: deps.registry.list().map((r) => summarize(r.id, deps.cluster, deps.fleet.get(r.id))).sort((a, b) => a.id.localeCompare(b.id)) },
  }));

  router.add('GET', '/api/v1/devices/:id', ({ params }): { body: DeviceDetail } => {
    const record = deviceOr404(params.id);
    const live = deps.fleet.get(record.id);
    return {
      body: {
        ...summarize(record.id, deps.cluster, live),
        health: live?.health ?? null,
        events: live?.events ?? [],
        tree: live?.health?.children ?? [],
        steps: live?.health?.steps ?? [],
      },
    };
  });

  router.add('POST', '/api/v1/devices', async ({ req }): Promise<{ status: number; body: EnrollResponse }> => {
    const { id } = await readJson(req, EnrollBody);
    const existed = deps.registry.get(id) !== undefined;
    const token = deps.registry.enroll(id);
    deps.onEnrolled(id);
    return { status: existed ? 200 : 201, body: { id, token } };
  });

  router.add('DELETE', '/api/v1/devices/:id', ({ params }) => {
    deviceOr404(params.id);
    deps.registry.remove(params.id);
    deps.onRemoved(params.id);
    return { status: 200, body: { id: params.id, removed: true } };
  });

  router.add('POST', '/api/v1/devices/:id/commands', async ({ req, params }) => {
    const record = deviceOr404(params.id);
    const { command, timeoutMs } = await readJson(req, CommandRequest);
    try {
      return { body: await deps.bus.send(record.id, command, timeoutMs) };
    } catch (err) {
      if (err instanceof CommandTimeoutError) throw new HttpError(504, err.message);
      throw err;
    }
  });

  router.add('GET', '/api/v1/cluster', (): { body: ClusterSummary } => {
    const summaries = deps.registry.list().map((r) => summarize(r.id, deps.cluster, deps.fleet.get(r.id)));
    const byArch: Record<string, number> = {};
    for (const s of summaries) byArch[s.arch ?? 'unknown'] = (byArch[s.arch ?? 'unknown'] ?? 0) + 1;
    return {
      body: {
        cluster: deps.cluster,
        coordinatorVersion: deps.version,
        uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
        devices: {
          total: summaries.length,
          online: summaries.filter((s) => s.online).length,
          offline: summaries.filter((s) => !s.online).length,
          degraded: summaries.filter((s) => s.state === 'degraded').length,
        },
        byArch,
        restartsTotal: summaries.reduce((n, s) => n + s.restartsTotal, 0),
        invalidMessages: deps.stats.invalidMessages,
        deniedRequests: deps.stats.deniedRequests,
      },
    };
  });
}
