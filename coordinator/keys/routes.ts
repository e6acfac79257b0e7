import { ValidationError } from '../../shared/errors.js';
import { RevocationRequest, type RevocationList } from '../../shared/revocations.js';
import { HttpError, type Router } from '../http/router.js';
import { readJson } from '../http/server.js';
import { NotRootError, type Revocations } from './revocations.js';

/**
 * `GET /api/v1/keys/revocations` (any coordinator: the list it holds) and `POST /api/v1/keys/revocations` (the
 * root: revoke a key; answered once the list is on disk). Behind the API token like every `/api/` route.
 */
export function addKeyRoutes(router: Router, revocations: Revocations): void {
  router.add('GET', '/api/v1/keys/revocations', (): { body: RevocationList } => ({ body: revocations.list() }));

  router.add('POST', '/api/v1/keys/revocations', async ({ req }): Promise<{ body: RevocationList }> => {
    const request = await readJson(req, RevocationRequest);
    try {
      return { body: await revocations.revoke(request) };
    } catch (err) {
      // Not the root, or the list is full (MAX_REVOKED).
      if (err instanceof NotRootError || err instanceof ValidationError) throw new HttpError(409, err.message);
      throw err;
    }
  });
}
