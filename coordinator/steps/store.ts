import { mkdirSync } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../shared/step-manifest.js';

/**
 * Step modules on disk, content-addressed: `<dir>/<sha256>.wasm`. Written via a temporary file and rename, so a
 * crash never leaves a partial module under its digest; verified on every read, so a corrupted file is never served.
 */
export class ModuleStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(sha256: string): string {
    return join(this.dir, `${sha256}.wasm`);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(bytes);
    const tmp = `${this.file(sha256)}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, this.file(sha256));
    return sha256;
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.file(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** The module's bytes, or undefined when absent or corrupted (a corrupted file is removed, to be fetched again). */
  async get(sha256: string): Promise<Uint8Array | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file(sha256));
    } catch {
      return undefined;
    }
    if (sha256Hex(bytes) === sha256) return bytes;
    await rm(this.file(sha256), { force: true });
    return undefined;
  }
}
