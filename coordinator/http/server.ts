import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { StoreWriteError } from '../../shared/durable/index.js';
import { describeZodError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { listen } from '../listen.js';
import { HttpError, type Router } from './router.js';

export interface HttpOptions {
  host: string;
  port: number;
  router: Router;
  /** When set, every `/api/` request needs `Authorization: Bearer <token>`. */
  apiToken?: string;
  log: Logger;
  onError(): void;
}

/** Bodies larger than this are refused with 413 before they are read whole. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startHttpServer(opts: HttpOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    handle(opts, req, res).catch((err) => {
      opts.log.error(`HTTP ${req.method} ${req.url}: ${errorMessage(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { status: 500, message: 'internal error' } });
      else res.destroy();
    });
  });
  const port = await listen(server, opts.port, opts.host);
  return { server, port };
}

async function handle(opts: HttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (url.pathname.startsWith('/api/') && opts.apiToken && !authorized(req, url, opts.apiToken)) {
      throw new HttpError(401, 'missing or wrong API token: send "Authorization: Bearer <token>"');
    }
    const match = opts.router.match(req.method ?? 'GET', url.pathname);
    if (!match) throw new HttpError(404, `no such resource: ${url.pathname}`);
    if ('allowed' in match) {
      res.setHeader('Allow', match.allowed.join(', '));
      throw new HttpError(405, `method ${req.method} not allowed on ${url.pathname}`);
    }
    const reply = await match.handler({ req, res, params: match.params, url });
    if (reply) sendJson(res, reply.status ?? 200, reply.body);
  } catch (caught) {
    // A change that could not be made durable: 507 Insufficient Storage, naming the cause (disk full, read-only).
    const err = caught instanceof StoreWriteError ? new HttpError(507, caught.message) : caught;
    if (!(err instanceof HttpError)) throw err;
    opts.onError();
    if (err.status >= 500) opts.log.error(`HTTP ${req.method} ${url.pathname}: ${err.message}`);
    else opts.log.debug(`HTTP ${req.method} ${url.pathname} → ${err.status}: ${err.message}`);
    sendJson(res, err.status, { error: { status: err.status, message: err.message } });
  }
}

/**
 * Bearer header, or `?token=` for clients that cannot set headers (EventSource in the dashboard).
 * Compared in constant time.
 */
function authorized(req: IncomingMessage, url: URL, token: string): boolean {
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Read a request body (bounded by `limit`), as raw bytes. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `body exceeds the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Read and validate a JSON body; a bad one is a 400 saying what is wrong. */
export async function readJson<T extends z.ZodType>(req: IncomingMessage, schema: T): Promise<z.infer<T>> {
  const raw = await readBody(req);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) throw new HttpError(400, `invalid request body: ${describeZodError(result.error)}`);
  return result.data;
}
