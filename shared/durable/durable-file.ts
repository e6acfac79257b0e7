import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { ConfigError, describeZodError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from './atomic-write.js';
import { StoreWriteError } from './errors.js';

/** Told about every write, e.g. to export store write latency as a metric. */
export interface StoreObserver {
  commit?(ms: number, bytes: number): void;
  /** `file` is the path written, a content store's directory (the coordinator labels its failure counter with the base name). */
  failure?(err: StoreWriteError, file: string): void;
}

/** How every durable file is written; the defaults suit production, tests and benches override them. */
export interface StoreOptions {
  log: Logger;
  /** false: every commit is its own write (the naive baseline of bench/enrolment.ts). Default true. */
  groupCommit?: boolean;
  /** Deferred changes (`defer()`) are written at most this long after they were made. Default 1000. */
  flushMs?: number;
  /** The write path; injectable so that the failure policy is tested without a broken disk. */
  write?: (file: string, data: string) => Promise<void>;
  observer?: StoreObserver;
}

export interface DurableFileSpec<T> {
  file: string;
  /** What the file holds, in log lines and errors ("device registry"). */
  what: string;
  /** Parses the file's JSON into the in-memory value. */
  schema: z.ZodType<T>;
  empty(): T;
  /** The in-memory value as the JSON written to the file (the inverse of `schema`). */
  serialize(value: T): unknown;
}

interface Batch {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function batch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a batch nobody awaits (deferred changes) must not be an unhandled rejection
  return { promise, resolve, reject };
}

/**
 * One JSON file held in memory and written whole, atomically and fsynced (writeFileAtomic).
 *
 * `commit()` resolves once a write containing every change made before the call is on disk: group commit, so the
 * changes of concurrent requests share one write while the previous one is in flight. `defer()` is for hot facts
 * (last seen, reported facts) that may wait up to `flushMs` and never hold up an answer. A failed write rejects the
 * commits it carried with a StoreWriteError (logged, counted); the changes stay in memory and the next write
 * retries them. The process never sees an uncaught error from here.
 */
export class DurableFile<T> {
  readonly stats = { writes: 0, failures: 0 };
  private dirty = false;
  private next: Batch | undefined;
  private draining: Promise<void> | undefined;
  private serial: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly write: (file: string, data: string) => Promise<void>;

  private constructor(
    private readonly spec: DurableFileSpec<T>,
    private readonly opts: StoreOptions,
    /** The current value; mutate it, then `commit()` or `defer()`. */
    readonly data: T,
  ) {
    this.write = opts.write ?? writeFileAtomic;
  }

  /**
   * Reads and validates the file. A file that is not valid JSON or not of the schema is moved aside to
   * `<file>.corrupt-<ms>` (logged with that path) and the store starts empty: one rule for agent and coordinator
   * (docs/decisions.md). A file that cannot be read at all (permissions, I/O error) refuses the start instead.
   */
  static async open<T>(spec: DurableFileSpec<T>, opts: StoreOptions): Promise<DurableFile<T>> {
    const { file } = spec;
    await mkdir(dirname(file), { recursive: true });
    let text: string | undefined;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`--data-dir: cannot read ${file}: ${errorMessage(err)}`);
    }
    if (text === undefined) return new DurableFile(spec, opts, spec.empty());
    let problem: string;
    try {
      const parsed = spec.schema.safeParse(JSON.parse(text));
      if (parsed.success) return new DurableFile(spec, opts, parsed.data);
      problem = describeZodError(parsed.error);
    } catch (err) {
      problem = `not JSON: ${errorMessage(err)}`;
    }
    const aside = `${file}.corrupt-${Date.now()}`;
    await rename(file, aside);
    opts.log.error(`${file} is not a valid ${spec.what} (${problem}); moved it to ${aside} and starting with an empty one`);
    return new DurableFile(spec, opts, spec.empty());
  }

  /** Resolves once every change made so far is on disk; rejects with a StoreWriteError when that write failed. */
  commit(): Promise<void> {
    this.dirty = true;
    if (this.opts.groupCommit === false) {
      const own = this.serial.then(() => this.writeNow());
      this.serial = own.catch(() => {});
      return own;
    }
    this.next ??= batch();
    this.draining ??= this.drain();
    return this.next.promise;
  }

  /** The changes made so far are written within `flushMs` (or with an earlier commit); failures are logged, counted. */
  defer(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.commit().catch(() => {});
    }, this.opts.flushMs ?? 1000);
  }

  /** Writes what is pending. Never rejects: a failure is logged and counted like any other. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty) await this.commit().catch(() => {});
    await this.draining;
    await this.serial;
  }

  private async drain(): Promise<void> {
    // Let the requests that arrived in this turn of the event loop join the first write.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.next) {
      const current = this.next;
      this.next = undefined;
      try {
        await this.writeNow();
        current.resolve();
      } catch (err) {
        current.reject(err);
      }
    }
    this.draining = undefined;
  }

  private async writeNow(): Promise<void> {
    this.dirty = false;
    const text = JSON.stringify(this.spec.serialize(this.data));
    const started = performance.now();
    try {
      await this.write(this.spec.file, text);
    } catch (err) {
      this.dirty = true;
      this.stats.failures++;
      const failure = new StoreWriteError(`${this.spec.what} not written to ${this.spec.file}: ${errorMessage(err)}`, { cause: err });
      this.opts.log.error(`${failure.message}; the change is kept in memory and the next write retries it`);
      this.opts.observer?.failure?.(failure, this.spec.file);
      throw failure;
    }
    this.stats.writes++;
    this.opts.observer?.commit?.(performance.now() - started, Buffer.byteLength(text));
  }
}
