import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { StoreWriteError } from '../../shared/durable/index.js';
import { ValidationError, describeZodError, errorMessage } from '../../shared/errors.js';
import { DEFAULT_JSON_BOUNDS, parseBoundedJson, type JsonBounds } from '../../shared/json-bounds.js';
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
  /** A request was answered with an error status. */
  onError(status: number): void;
  /** How long a client may take to send its request headers (default HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
}

/** Bodies larger than this are refused with 413 before they are read whole. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 60_000;

export async function startHttpServer(opts: HttpOptions): Promise<{ server: Server; port: number }> {
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    handle(opts, req, res).catch((err) => {
      opts.log.error(`HTTP ${req.method} ${req.url}: ${errorMessage(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { status: 500, message: 'internal error' } });
      else res.destroy();
    });
  });
  // A client that trickles its headers or body holds a socket for this long at most (Node's defaults: 60 s / 5 min,
  // checked every 30 s).
  server.headersTimeout = opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  const port = await listen(server, opts.port, opts.host);
  return { server, port };
}

async function handle(opts: HttpOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if ((url.pathname.startsWith('/api/') || url.pathname === '/metrics') && opts.apiToken && !authorized(req, url, opts.apiToken)) {
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
    opts.onError(err.status);
    if (err.status >= 500) opts.log.error(`HTTP ${req.method} ${url.pathname}: ${err.message}`);
    else opts.log.debug(`HTTP ${req.method} ${url.pathname} → ${err.status}: ${err.message}`);
    for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
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

/**
 * Bytes of request bodies held in memory at once, across all requests of this process: concurrent uploads beyond
 * it wait for nobody, they get 503 + Retry-After, so eight 15 MB uploads cannot take hundreds of MB.
 */
export const MAX_BODY_BYTES_IN_FLIGHT = 2 * MAX_BODY_BYTES;
let bodyBytesInFlight = 0;
const busy = () => new HttpError(503, `request bodies of ${MAX_BODY_BYTES_IN_FLIGHT} bytes are in flight already: retry later`, { 'retry-after': '1' });

/** Read a request body (bounded by `limit`, and by what all requests together may hold), as raw bytes. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']) || 0;
  if (declared > limit) throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit}`);
  // A declared length is reserved before a byte is read; chunked bodies reserve as they come.
  let reserved = 0;
  const reserve = (n: number) => {
    if (bodyBytesInFlight + n > MAX_BODY_BYTES_IN_FLIGHT) throw busy();
    bodyBytesInFlight += n;
    reserved += n;
  };
  try {
    reserve(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) throw new HttpError(413, `body exceeds the limit of ${limit} bytes`);
      if (size > reserved) reserve(size - reserved);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  } finally {
    bodyBytesInFlight -= reserved;
  }
}

/** JSON bodies (everything but module uploads) are small: specs, commands, enrolments. */
export const MAX_JSON_BODY_BYTES = DEFAULT_JSON_BOUNDS.maxBytes;

/** Read and validate a JSON body; a bad one (size, depth, lengths, schema) is a 400 or 413 saying what is wrong. */
export async function readJson<T extends z.ZodType>(req: IncomingMessage, schema: T, bounds: Partial<JsonBounds> = {}): Promise<z.infer<T>> {
  const all = { ...DEFAULT_JSON_BOUNDS, ...bounds };
  const raw = await readBody(req, all.maxBytes);
  let json: unknown;
  try {
    json = parseBoundedJson(raw, 'request body', all);
  } catch (err) {
    throw new HttpError(400, err instanceof ValidationError ? err.message : 'request body is not valid JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) throw new HttpError(400, `invalid request body: ${describeZodError(result.error)}`);
  return result.data;
}
