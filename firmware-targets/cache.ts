import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

export { sha256File } from '../shared/sha256-file.js';

export function sha256Text(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p).update('\0');
  return hash.digest('hex');
}

/**
 * A content-addressed cache under .cache/: `file(kind, key, make)` returns the cached path, calling `make(tmp)` only
 * when it is absent. `make` writes to a temporary path that is renamed into place, so an interrupted build never
 * leaves a half-written entry behind.
 */
export class BuildCache {
  constructor(readonly root: string) {}

  async file(kind: string, key: string, make: (tmp: string) => Promise<void>): Promise<{ path: string; hit: boolean }> {
    const path = join(this.root, kind, key);
    if (existsSync(path)) return { path, hit: true };
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    try {
      await make(tmp);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return { path, hit: false };
  }

  dir(kind: string): string {
    const path = join(this.root, kind);
    mkdirSync(path, { recursive: true });
    return path;
  }
}
