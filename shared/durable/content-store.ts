import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../step-manifest.js';
import { writeFileAtomic } from './atomic-write.js';
import { errorMessage } from '../errors.js';
import { CorruptContentError, StoreWriteError } from './errors.js';
import type { StoreObserver } from './durable-file.js';

/** A content name: 64 lowercase hex digits. Anything else never reaches the file system. */
export function isSha256(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
}

/**
 * Content-addressed files, `<dir>/<sha256><ext>` (step modules on agents and coordinators). Written atomically and
 * fsynced, so a crash never leaves a partial file under its digest; verified on every read, so corrupt bytes are
 * never served or run. A name that is not a sha256 is simply absent (it never reaches the file system).
 */
export class ContentStore {
  constructor(
    readonly dir: string,
    private readonly ext = '.wasm',
    /** Told of every failed write with the directory (a content name holds a digest: the coordinator labels by `dir`). */
    private readonly observer?: StoreObserver,
  ) {}

  private file(sha256: string): string {
    return join(this.dir, `${sha256}${this.ext}`);
  }

  /** Resolves with the digest once the bytes are on disk; a failed write is a StoreWriteError naming the cause. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(bytes);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(this.file(sha256), bytes);
    } catch (err) {
      const failure = new StoreWriteError(`module ${sha256} not written to ${this.dir}: ${errorMessage(err)}`, { cause: err });
      this.observer?.failure?.(failure, this.dir);
      throw failure;
    }
    return sha256;
  }

  async has(sha256: string): Promise<boolean> {
    if (!isSha256(sha256)) return false;
    return stat(this.file(sha256)).then(
      () => true,
      () => false,
    );
  }

  /** The verified bytes, or undefined when absent. Throws CorruptContentError after removing a corrupt file. */
  async get(sha256: string): Promise<Uint8Array | undefined> {
    if (!isSha256(sha256)) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const actual = sha256Hex(bytes);
    if (actual === sha256) return bytes;
    await this.remove(sha256);
    throw new CorruptContentError(sha256, `${bytes.length} bytes hash to ${actual}`);
  }

  async remove(sha256: string): Promise<void> {
    if (isSha256(sha256)) await rm(this.file(sha256), { force: true });
  }
}
