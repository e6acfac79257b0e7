import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentStore, CorruptContentError, isSha256, writeFileAtomic } from '../../shared/durable/index.js';
import { parseStepManifest, sha256Hex, type StepManifest } from '../../shared/step-manifest.js';
import { errorMessage } from '../../shared/errors.js';
import { StepCorruptError, StepLoadError, StepNotFoundError } from './errors.js';

/**
 * Step modules in `<dataDir>/steps/`: `<sha256>.wasm` in the shared content-addressed store (atomic, fsynced,
 * verified on read) plus `<sha256>.json`, its manifest, written the same way after the module, so a manifest on disk
 * always has its module. A corrupt or truncated module is never executed: it is removed and reported instead.
 */
export class StepStore {
  readonly dir: string;
  private readonly modules: ContentStore;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'steps');
    this.modules = new ContentStore(this.dir);
  }

  /** Stores a module under its manifest; throws StepLoadError when the bytes do not match the manifest's sha256. */
  async put(bytes: Uint8Array, manifest: StepManifest): Promise<void> {
    const actual = sha256Hex(bytes);
    if (actual !== manifest.sha256) throw new StepLoadError(`sha256 mismatch: manifest says ${manifest.sha256}, module bytes hash to ${actual}`);
    await this.modules.put(bytes);
    await writeFileAtomic(this.manifestFile(actual), JSON.stringify(manifest, null, 2) + '\n');
  }

  /** Reads and verifies a stored module. Throws StepNotFoundError, or StepCorruptError after removing bad files. */
  async get(sha256: string): Promise<{ bytes: Uint8Array; manifest: StepManifest }> {
    const text = await this.readManifest(sha256);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.modules.get(sha256);
    } catch (err) {
      if (err instanceof CorruptContentError) return this.corrupt(sha256, err.detail);
      throw err;
    }
    if (!bytes || text === undefined) {
      if (bytes || text !== undefined) await this.remove(sha256); // half an entry is as good as none
      throw new StepNotFoundError(sha256);
    }
    let manifest: StepManifest;
    try {
      manifest = parseStepManifest(JSON.parse(text));
    } catch (err) {
      return this.corrupt(sha256, `manifest: ${errorMessage(err)}`);
    }
    if (manifest.sha256 !== sha256) return this.corrupt(sha256, `manifest names ${manifest.sha256}`);
    return { bytes, manifest };
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.readManifest(sha256)) !== undefined && (await this.modules.has(sha256));
  }

  async remove(sha256: string): Promise<void> {
    if (!isSha256(sha256)) return;
    await Promise.all([this.modules.remove(sha256), rm(this.manifestFile(sha256), { force: true })]);
  }

  private manifestFile(sha256: string): string {
    return join(this.dir, `${sha256}.json`);
  }

  private async corrupt(sha256: string, detail: string): Promise<never> {
    await this.remove(sha256);
    throw new StepCorruptError(sha256, detail);
  }

  private async readManifest(sha256: string): Promise<string | undefined> {
    if (!isSha256(sha256)) return undefined;
    try {
      return await readFile(this.manifestFile(sha256), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
