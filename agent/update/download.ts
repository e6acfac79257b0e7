import { open, rename, rm, stat } from 'node:fs/promises';
import { sha256File } from '../../shared/sha256-file.js';

export class DownloadError extends Error {
  override name = 'DownloadError';
}

export interface DownloadSpec {
  url: string;
  /** The verified file; `<file>.part` holds what arrived so far, kept across broken links and restarts. */
  file: string;
  sha256: string;
  size: number;
  /** Connection attempts before giving up (each resumes where the last one broke). */
  attempts: number;
  /** Wait before attempt `n` (1-based, after the first). */
  backoffMs(n: number): number;
  fetch?: typeof fetch;
}

/**
 * Download `url` to `file`, resuming a broken transfer with `Range: bytes=N-` from what `<file>.part` holds; a
 * server that answers 200 instead of 206 starts it over. The whole file must hash to `sha256`, or it is removed.
 * Resolves with the bytes transferred (less than `size` when a transfer resumed).
 */
export async function download(spec: DownloadSpec): Promise<number> {
  const part = `${spec.file}.part`;
  const get = spec.fetch ?? fetch;
  let transferred = 0;
  let lastError: unknown;
  for (let attempt = 1; attempt <= spec.attempts; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, spec.backoffMs(attempt)));
    let have = await stat(part).then((s) => s.size, () => 0);
    if (have > spec.size) await rm(part, { force: true }), (have = 0);
    try {
      if (have < spec.size) {
        const res = await get(spec.url, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
        if (res.status === 200) have = 0;
        else if (res.status !== 206) throw new DownloadError(`${spec.url} answered HTTP ${res.status}`);
        if (!res.body) throw new DownloadError(`${spec.url} sent no body`);
        // Each chunk is written before the next is read: whatever arrived before a broken link is in the part file.
        const out = await open(part, have > 0 ? 'a' : 'w');
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            await out.write(chunk);
            transferred += chunk.length;
          }
        } finally {
          await out.close();
        }
      }
      const got = await stat(part).then((s) => s.size);
      if (got !== spec.size) throw new DownloadError(`${got} of ${spec.size} bytes arrived`);
      const actual = await sha256File(part);
      if (actual !== spec.sha256) {
        await rm(part, { force: true });
        throw new DownloadError(`the artifact hashes to ${actual}, not ${spec.sha256}`);
      }
      await rename(part, spec.file);
      return transferred;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof DownloadError ? lastError : new DownloadError(`download of ${spec.url} failed after ${spec.attempts} attempt(s): ${(lastError as Error)?.message ?? lastError}`);
}
