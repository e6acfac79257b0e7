import { z } from 'zod';
import { ClusterEnrollRequest, FanoutTarget, type ClusterEnrollResponse, type ClusterTree, type DeviceDetail, type DeviceList, type FanoutResult } from '../../shared/api.js';
import { ClusterName, splitQualifiedId, type ClusterPath } from '../../shared/fleet-topics.js';
import type { RequestScope } from '../../shared/federation.js';
import { CommandBody } from '../../shared/messages.js';
import { HttpError, type Router } from '../http/router.js';
import { readJson } from '../http/server.js';
import type { DeviceDirectory } from '../fleet/directory.js';
import type { Children } from './children.js';
import { Federation } from './federation.js';

const CommandRequest = z.object({ command: CommandBody, timeoutMs: z.number().int().min(1).max(120_000).default(10_000) });
const FanoutRequest = CommandRequest.extend({ target: FanoutTarget });

/** A full cluster path as shown in `cluster` (`root/eu/site1`) → the path relative to cluster `self`. */
function relative(self: string, full: string): ClusterPath {
  const levels = full.split('/');
  if (levels[0] !== self) throw new HttpError(404, `cluster path "${full}" does not start with this cluster's name "${self}"`);
  return levels.slice(1);
}

/** Where a fan-out target (`POST /api/v1/commands`, `POST /api/v1/desired`) is routed, relative to cluster `self`. */
export function fanoutScope(self: string, target: FanoutTarget): { path: ClusterPath; scope: RequestScope } {
  if ('device' in target) {
    const q = splitQualifiedId(target.device);
    return { path: q.path, scope: { scope: 'device', device: q.id } };
  }
  if ('cluster' in target) return { path: relative(self, target.cluster), scope: { scope: 'cluster' } };
  if ('subtree' in target) return { path: relative(self, target.subtree), scope: { scope: 'subtree' } };
  return { path: [], scope: { scope: 'subtree' } };
}

/**
 * The device and federation routes (docs/api.md): the device list, device detail and device commands cover the
 * whole subtree (cluster-path-qualified ids, `eu/site1/x`), read from the device directory.
 */
export function addFederationRoutes(router: Router, fed: Federation, directory: DeviceDirectory, children: Children | undefined): void {
  const self = fed.opts.cluster;

  router.add('GET', '/api/v1/devices', (): { body: DeviceList } => ({ body: { devices: directory.list() } }));

  router.add('GET', '/api/v1/devices/:id', async ({ params }): Promise<{ body: DeviceDetail }> => {
    const { path, id } = splitQualifiedId(params.id);
    const known = directory.detail(params.id);
    if (!known) throw new HttpError(404, path.length ? `no device "${params.id}" below cluster ${self}` : `no device "${id}" in cluster ${self}`);
    if (path.length === 0) return { body: known };
    // Detail on request: ask the device's own coordinator; fall back to what flowed up when it cannot answer.
    const { detail } = await fed.request(path, { scope: 'device', device: id }, { type: 'detail' }, 3000);
    return { body: detail ? { ...detail, id: known.id, cluster: known.cluster } : known };
  });

  router.add('POST', '/api/v1/devices/:id/commands', async ({ req, params }) => {
    const { command, timeoutMs } = await readJson(req, CommandRequest);
    const { path, id } = splitQualifiedId(params.id);
    const { result } = await fed.request(path, { scope: 'device', device: id }, { type: 'command', command }, timeoutMs);
    const { ack, error } = Federation.single(result, params.id);
    if (ack) return { body: ack };
    if (error?.startsWith('no device')) throw new HttpError(404, error);
    throw new HttpError(504, error ?? `device ${params.id} did not acknowledge within ${timeoutMs} ms`);
  });

  router.add('POST', '/api/v1/commands', async ({ req }): Promise<{ body: FanoutResult }> => {
    const { command, timeoutMs, target } = await readJson(req, FanoutRequest);
    const { path, scope } = fanoutScope(self, target);
    const { result } = await fed.request(path, scope, { type: 'command', command }, timeoutMs);
    return { body: result };
  });

  router.add('GET', '/api/v1/clusters', (): { body: ClusterTree } => ({ body: { root: directory.tree() } }));

  router.add('POST', '/api/v1/clusters', async ({ req }): Promise<{ status: number; body: ClusterEnrollResponse }> => {
    if (!children) throw new HttpError(400, 'this coordinator uses an external broker: child coordinators authenticate there');
    const { name } = await readJson(req, ClusterEnrollRequest);
    const valid = ClusterName.safeParse(name);
    if (!valid.success) throw new HttpError(400, `invalid request body: name: ${valid.error.issues[0]?.message}`);
    const existed = children.has(name);
    return { status: existed ? 200 : 201, body: { name, token: await children.enroll(name) } };
  });
}
