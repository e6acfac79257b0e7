import { z } from 'zod';
import { RolloutList, type RolloutStatus } from '../../shared/rollout.js';
import { HttpError, type Router } from '../http/router.js';
import { readJson } from '../http/server.js';
import { CommandError } from './planner.js';
import { RolloutRefused, type Rollouts } from './rollouts.js';

const COMMANDS = ['pause', 'resume', 'abort', 'rollback'] as const;

/** `POST/GET /api/v1/rollouts`, `GET /api/v1/rollouts/:id`, `POST /api/v1/rollouts/:id/{pause,resume,abort,rollback}`. */
export function addRolloutRoutes(router: Router, rollouts: Rollouts): void {
  const find = (id: string) => {
    const r = rollouts.get(id);
    if (r) return r;
    if (rollouts.shareForAbove(id)) throw new HttpError(409, `rollout "${id}" is owned by a coordinator above; this cluster only carries out its share: command it at its owner`);
    throw new HttpError(404, `no rollout "${id}"`);
  };

  router.add('POST', '/api/v1/rollouts', async ({ req }): Promise<{ status: number; body: RolloutStatus }> => {
    const body = await readJson(req, z.unknown());
    try {
      return { status: 201, body: await rollouts.create(body) };
    } catch (err) {
      if (err instanceof RolloutRefused) throw new HttpError(err.status, err.message);
      throw err;
    }
  });

  router.add('GET', '/api/v1/rollouts', (): { body: RolloutList } => ({ body: { rollouts: rollouts.list() } }));

  router.add('GET', '/api/v1/rollouts/:id', ({ params }): { body: RolloutStatus } => ({ body: (rollouts.get(params.id) ?? rollouts.shareForAbove(params.id) ?? find(params.id)).status() }));

  for (const command of COMMANDS) {
    router.add('POST', `/api/v1/rollouts/:id/${command}`, async ({ params }): Promise<{ body: RolloutStatus }> => {
      const rollout = find(params.id);
      try {
        await rollout.command(command);
      } catch (err) {
        if (err instanceof CommandError) throw new HttpError(409, err.message);
        throw err;
      }
      return { body: rollout.status() };
    });
  }
}
