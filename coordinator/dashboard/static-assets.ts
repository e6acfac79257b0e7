import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = fileURLToPath(import.meta.url);
/** dist/dashboard, where `npm run build` puts the page, whether this module runs built or from source (tests). */
export const DASHBOARD_DIR = here.endsWith('.ts') ? join(dirname(here), '../../dist/dashboard') : join(dirname(here), '../../dashboard');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.map']);

/** Hashed names (`main-3FZ2KQ7M.js`) never change content, so browsers may keep them for a year without asking. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** index.html names the current hashes: always revalidate it (cheap, thanks to the ETag). */
const REVALIDATE = 'no-cache';

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
  cacheControl: string;
}

/** The built page, read into memory once (a few hundred KB) so serving it never touches the disk. */
export class StaticAssets {
  private constructor(private readonly assets: Map<string, Asset>) {}

  /** `undefined` when the page was not built (a tsc-only build): the coordinator then serves the API alone. */
  static load(dir = DASHBOARD_DIR): StaticAssets | undefined {
    if (!existsSync(join(dir, 'index.html'))) return undefined;
    const assets = new Map<string, Asset>();
    assets.set('/', asset(readFileSync(join(dir, 'index.html')), '.html', REVALIDATE));
    const assetDir = join(dir, 'assets');
    for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
      const ext = extname(name);
      if (!(ext in CONTENT_TYPES)) continue;
      assets.set(`/assets/${name}`, asset(readFileSync(join(assetDir, name)), ext, IMMUTABLE));
    }
    return new StaticAssets(assets);
  }

  /** Answer GET/HEAD for `path`; false when there is no such asset. */
  serve(path: string, req: IncomingMessage, res: ServerResponse): boolean {
    const a = this.assets.get(path);
    if (!a) return false;
    const headers: Record<string, string | number> = {
      'content-type': a.type,
      'cache-control': a.cacheControl,
      etag: a.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
    };
    if (path === '/') {
      // Everything the page loads comes from this origin; no inline scripts.
      headers['content-security-policy'] = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";
      headers['referrer-policy'] = 'no-referrer';
    }
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gzip = a.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) ? a.gzip : undefined;
    const body = gzip ?? a.body;
    if (gzip) headers['content-encoding'] = 'gzip';
    headers['content-length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

function asset(body: Buffer, ext: string, cacheControl: string): Asset {
  const gzip = COMPRESSIBLE.has(ext) ? gzipSync(body, { level: 9 }) : undefined;
  return {
    body,
    gzip: gzip && gzip.length < body.length ? gzip : undefined,
    type: CONTENT_TYPES[ext],
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    cacheControl,
  };
}
