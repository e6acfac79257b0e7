import { z } from 'zod';
import { FanoutTarget, type FanoutResult } from '../../shared/api.js';
import type { DesiredMessage } from '../../shared/desired.js';
import { ValidationError } from '../../shared/errors.js';
import { splitQualifiedId } from '../../shared/fleet-topics.js';
import { fanoutScope, type Federation } from '../federation/index.js';
import type { DeviceDirectory } from '../fleet/directory.js';
import { HttpError, type Router } from '../http/router.js';
import { readJson } from '../http/server.js';
import type { StepRegistry } from '../steps/index.js';
import type { DesiredStates } from './desired-states.js';
import { resolveSpec } from './resolve.js';

const DesiredRequest = z.object({
  target: FanoutTarget,
  spec: z.unknown().refine((s) => s !== undefined, 'required: the supervisor spec'),
  timeoutMs: z.number().int().min(1).max(120_000).default(10_000),
});

/**
 * `POST /api/v1/desired` and `GET /api/v1/devices/:id/desired` (docs/api.md, "Desired state"). The spec is checked
 * and its steps resolved here, once; the addressed clusters store and publish it for their own devices.
 */
export function addDesiredRoutes(router: Router, deps: { federation: Federation; directory: DeviceDirectory; steps: StepRegistry; desired: DesiredStates }): void {
  const { federation: fed, directory } = deps;
  const self = fed.opts.cluster;

  router.add('POST', '/api/v1/desired', async ({ req }): Promise<{ body: FanoutResult }> => {
    const { target, spec, timeoutMs } = await readJson(req, DesiredRequest);
    let modules;
    try {
      modules = resolveSpec(spec, (ref) => deps.steps.resolve(ref));
    } catch (err) {
      if (err instanceof ValidationError) throw new HttpError(400, err.message);
      throw err;
    }
    const { path, scope } = fanoutScope(self, target);
    if ('device' in target) {
      // Known locally, or reported up by its cluster: an unknown device is a 404, not a timeout.
      if (!directory.summary(target.device)) throw new HttpError(404, `no device "${target.device}" below cluster ${self}`);
    } else if (!directory.below.has(path)) throw new HttpError(404, `no cluster "${[self, ...path].join('/')}" below cluster ${self}`);
    const { result } = await fed.request(path, scope, { type: 'desired', spec, modules }, timeoutMs);
    return { body: result };
  });

  router.add('GET', '/api/v1/devices/:id/desired', async ({ params }): Promise<{ body: DesiredMessage }> => {
    const { path, id } = splitQualifiedId(params.id);
    let desired: DesiredMessage | undefined;
    if (path.length === 0) {
      if (!directory.isLocal(id)) throw new HttpError(404, `no device "${id}" in cluster ${self}`);
      desired = deps.desired.get(id);
    } else {
      if (!directory.summary(params.id)) throw new HttpError(404, `no device "${params.id}" below cluster ${self}`);
      const reply = await fed.request(path, { scope: 'device', device: id }, { type: 'get_desired' }, 3000);
      if (reply.result.unreachable.length) throw new HttpError(504, `cluster ${reply.result.unreachable.join(', ')} did not answer`);
      desired = reply.desired;
    }
    if (!desired) throw new HttpError(404, `no desired state for device "${params.id}" yet`);
    return { body: desired };
  });
}
