import type { ApiError as ApiErrorBody } from '../../../shared/api.js';

const TOKEN_KEY = 'flotilla.apiToken';

/** The API token lives in sessionStorage: gone when the tab closes, never in a cookie or the URL bar. */
export const tokenStore = {
  get: (): string | undefined => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A failed API call: `status` is the HTTP status (0 when the coordinator could not be reached). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** POST to a documented API path without a body (a rollout command); the answer's body, or an ApiError. */
export async function apiPost<T>(path: string, token = tokenStore.get()): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch {
    throw new ApiError(0, 'cannot reach the coordinator');
  }
  return answer<T>(res);
}

async function answer<T>(res: Response): Promise<T> {
  const json: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const message = (json as ApiErrorBody | undefined)?.error?.message;
    throw new ApiError(res.status, typeof message === 'string' ? message : `HTTP ${res.status}`);
  }
  return json as T;
}

/**
 * GET a documented API path (docs/api.md); `T` is its body type from shared/. Bodies are not re-validated here:
 * the page is served by the very coordinator that answers (same build), and zod would quadruple the bundle.
 */
export async function apiGet<T>(path: string, token = tokenStore.get()): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'cannot reach the coordinator');
  }
  return answer<T>(res);
}
