import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStepManifest, sha256Hex, type StepManifest } from '../../shared/step-manifest.js';
import { errorMessage } from '../../shared/errors.js';
import { StepCorruptError, StepLoadError, StepNotFoundError } from './errors.js';

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Content-addressed step modules in `<dataDir>/steps/`: `<sha256>.wasm` plus `<sha256>.json` (its manifest).
 * Writes are atomic (temp file + rename), so a crash leaves either the whole file or none; every read is verified
 * against the sha256, so a corrupt or truncated module is never executed — it is removed and reported instead.
 */
export class StepStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'steps');
  }

  /** Stores a module under its manifest; throws StepLoadError when the bytes do not match the manifest's sha256. */
  async put(bytes: Uint8Array, manifest: StepManifest): Promise<void> {
    const actual = sha256Hex(bytes);
    if (actual !== manifest.sha256) throw new StepLoadError(`sha256 mismatch: manifest says ${manifest.sha256}, module bytes hash to ${actual}`);
    await mkdir(this.dir, { recursive: true });
    // The module first: a manifest on disk always has its module.
    await this.writeAtomic(`${actual}.wasm`, bytes);
    await this.writeAtomic(`${actual}.json`, JSON.stringify(manifest, null, 2) + '\n');
  }

  /** Reads and verifies a stored module. Throws StepNotFoundError, or StepCorruptError after removing bad files. */
  async get(sha256: string): Promise<{ bytes: Uint8Array; manifest: StepManifest }> {
    if (!SHA256.test(sha256)) throw new StepNotFoundError(sha256);
    const [bytes, text] = await Promise.all([this.read(`${sha256}.wasm`), this.read(`${sha256}.json`)]);
    if (!bytes || !text) {
      if (bytes || text) await this.remove(sha256); // half an entry is as good as none
      throw new StepNotFoundError(sha256);
    }
    const actual = sha256Hex(bytes);
    if (actual !== sha256) return this.corrupt(sha256, `${bytes.length} bytes hash to ${actual}`);
    let manifest: StepManifest;
    try {
      manifest = parseStepManifest(JSON.parse(text.toString('utf8')));
    } catch (err) {
      return this.corrupt(sha256, `manifest: ${errorMessage(err)}`);
    }
    if (manifest.sha256 !== sha256) return this.corrupt(sha256, `manifest names ${manifest.sha256}`);
    return { bytes, manifest };
  }

  async has(sha256: string): Promise<boolean> {
    return SHA256.test(sha256) && (await this.read(`${sha256}.json`)) !== undefined;
  }

  async remove(sha256: string): Promise<void> {
    await Promise.all([rm(join(this.dir, `${sha256}.wasm`), { force: true }), rm(join(this.dir, `${sha256}.json`), { force: true })]);
  }

  private async corrupt(sha256: string, detail: string): Promise<never> {
    await this.remove(sha256);
    throw new StepCorruptError(sha256, detail);
  }

  private async read(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private async writeAtomic(name: string, data: Uint8Array | string): Promise<void> {
    const temp = join(this.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      // fsync before rename so the new name never points at unwritten blocks (writeFile's `flush` is Node 20+).
      const file = await open(temp, 'w');
      try {
        await file.writeFile(data);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, join(this.dir, name));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}
