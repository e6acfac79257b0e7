import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../../shared/errors.js';
import { isSha256, StoreWriteError } from '../../shared/durable/index.js';
import { syncDirectory } from '../../shared/durable/atomic-write.js';
import { artifactPath } from '../../shared/agent-release.js';
import type { Logger } from '../../shared/log.js';

export class ArtifactRejected extends Error {
  override name = 'ArtifactRejected';
}

/**
 * Agent release artifacts, content-addressed (`<dir>/<sha256>.artifact`). Unlike step modules (kilobytes, read whole
 * and verified on every read), artifacts are tens of MB and served by range to many devices: each is verified once,
 * as it is streamed in (upload, or the one fetch from the parent), fsynced and renamed into place, then served from
 * disk. A child coordinator fetches an artifact it lacks from its parent once (concurrent requests share the fetch).
 */
export class ArtifactStore {
  private readonly inflight = new Map<string, Promise<boolean>>();
  /** Bytes this store took from its parent and how many artifacts: what crossed the link (bench, tests). */
  readonly upstream = { artifacts: 0, bytes: 0 };

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    private readonly parentHttp?: string,
    /** Told of every artifact that could not be written (the coordinator's failure counter). */
    private readonly failed: () => void = () => {},
  ) {}

  file(sha256: string): string {
    return join(this.dir, `${sha256}.artifact`);
  }

  /** Size on disk, or undefined when absent (a name that is not a sha256 never reaches the file system). */
  async size(sha256: string): Promise<number | undefined> {
    if (!isSha256(sha256)) return undefined;
    return stat(this.file(sha256)).then(
      (s) => s.size,
      () => undefined,
    );
  }

  /** Stream `body` in as `sha256`; rejects (ArtifactRejected) when it is not exactly `size` bytes hashing to it. */
  async put(body: AsyncIterable<Uint8Array>, sha256: string, size: number): Promise<void> {
    if (!isSha256(sha256)) throw new ArtifactRejected(`"${sha256}" is not a sha256`);
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let received = 0;
    try {
      await pipeline(
        // Not a stage of its own: a body that fails (a client hanging up mid-upload, a parent link dropping) would be
        // the pipeline's error as is, and counted as the disk's. Read here, it is the sender's: rejected, not counted.
        async function* () {
          try {
            for await (const chunk of body) {
              received += chunk.length;
              if (received > size) throw new ArtifactRejected(`more than the declared ${size} bytes`);
              hash.update(chunk);
              yield chunk;
            }
          } catch (err) {
            if (err instanceof ArtifactRejected) throw err;
            throw new ArtifactRejected(`the upload broke off after ${received} of ${size} bytes: ${errorMessage(err)}`, { cause: err });
          }
        },
        createWriteStream(temp),
      );
      const actual = hash.digest('hex');
      if (received !== size) throw new ArtifactRejected(`${received} bytes received, ${size} declared`);
      if (actual !== sha256) throw new ArtifactRejected(`the bytes hash to ${actual}, not ${sha256}`);
      const handle = await open(temp, 'r');
      await handle.sync().finally(() => handle.close());
      await rename(temp, this.file(sha256));
      await syncDirectory(this.dir);
    } catch (err) {
      await rm(temp, { force: true });
      if (err instanceof ArtifactRejected) throw err;
      this.failed();
      throw new StoreWriteError(`artifact ${sha256} not written to ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Whether the artifact is here, fetching it once from the parent when it is not (and there is one). */
  ensure(sha256: string, size: number): Promise<boolean> {
    const running = this.inflight.get(sha256);
    if (running) return running;
    const p = (async () => {
      if ((await this.size(sha256)) === size) return true;
      if (!this.parentHttp) return false;
      try {
        const res = await fetch(new URL(artifactPath(sha256), this.parentHttp));
        if (res.status !== 200 || !res.body) throw new Error(`the parent answered ${res.status}`);
        await this.put(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), sha256, size);
        this.upstream.artifacts++;
        this.upstream.bytes += size;
        return true;
      } catch (err) {
        this.log.warn(`agent artifact ${sha256} from the parent: ${errorMessage(err)}`);
        return false;
      }
    })().finally(() => this.inflight.delete(sha256));
    this.inflight.set(sha256, p);
    return p;
  }
}
