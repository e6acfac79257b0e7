import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory, writeFileAtomic } from './durable/atomic-write.js';
import { errorMessage } from './errors.js';
import type { Logger } from './log.js';

/** What `Journal.open` found on disk: the last snapshot (if any) and the records appended after it, in order. */
export interface Recovered<R, S> {
  journal: Journal<R, S>;
  snapshot: S | undefined;
  records: R[];
}

interface Pending {
  gen: number;
  line: string;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * An append-only log of JSON records with group commit and snapshots, for state that changes record by record
 * (the broker's sessions, the agent's spool). `append` resolves once its record is on disk (write + fdatasync);
 * records appended in the same tick share one write. `snapshot(state)` starts a new generation at once, so it is
 * called in the same synchronous block that read `state`: records appended before it belong to the snapshot,
 * records after it to the new generation. Files in `dir`: `<name>.snapshot.json` `{gen, state}` and
 * `<name>.<gen>.log`; recovery reads the snapshot, then every log of its generation or later. A torn last line (power
 * lost mid-write, so never acknowledged) is dropped. Runs on Node 18 (the agent uses it too).
 */
export class Journal<R, S> {
  private gen: number;
  private queue: Pending[] = [];
  private flushing = false;
  /** The open log and its length, to cut a short write's fragment off. */
  private file: { gen: number; handle: FileHandle; size: number } | undefined;
  private snapshotting: Promise<unknown> | undefined;
  private closed = false;
  /** Bytes appended since the last snapshot. */
  size = 0;

  private constructor(
    private readonly dir: string,
    private readonly name: string,
    gen: number,
    private readonly log: Logger,
  ) {
    this.gen = gen;
  }

  static async open<R, S>(dir: string, name: string, log: Logger): Promise<Recovered<R, S>> {
    await mkdir(dir, { recursive: true });
    const snapFile = join(dir, `${name}.snapshot.json`);
    let snapshot: S | undefined;
    let gen = 0;
    const text = await readFile(snapFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (text !== undefined) {
      const parsed = JSON.parse(text) as { gen: number; state: S };
      gen = parsed.gen;
      snapshot = parsed.state;
    }
    const logs = (await readdir(dir))
      .map((f) => new RegExp(`^${escape(name)}\\.(\\d+)\\.log$`).exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ file: m[0], gen: Number(m[1]) }))
      .sort((a, b) => a.gen - b.gen);
    const records: R[] = [];
    let size = 0;
    let last = gen;
    for (const l of logs) {
      // Logs older than the snapshot were folded into it; a crash before their removal leaves them behind.
      if (l.gen < gen) {
        await rm(join(dir, l.file), { force: true });
        continue;
      }
      const content = await readFile(join(dir, l.file), 'utf8');
      size += content.length;
      const lines = content.split('\n');
      lines.forEach((line, i) => {
        if (!line) return;
        try {
          records.push(JSON.parse(line) as R);
        } catch (err) {
          const torn = i === lines.length - 1;
          if (!torn) log.warn(`${l.file}: skipped unreadable record on line ${i + 1}: ${errorMessage(err)}`);
        }
      });
      last = l.gen;
    }
    const journal = new Journal<R, S>(dir, name, last, log);
    journal.size = size;
    return { journal, snapshot, records };
  }

  /** Resolves once `record` is durable. */
  append(record: R): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal ${this.name} is closed`));
    const line = JSON.stringify(record) + '\n';
    this.size += line.length;
    return new Promise((resolve, reject) => {
      this.queue.push({ gen: this.gen, line, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** True while a snapshot is being written (callers skip starting another). */
  get compacting(): boolean {
    return this.snapshotting !== undefined;
  }

  /**
   * Replace everything appended so far by `state`, read by the caller in the same synchronous block (it may still
   * be settling: the cut is this call, not the promise). Resolves once the snapshot is durable and the logs it
   * replaces are gone, with its size in bytes.
   */
  snapshot(state: S | Promise<S>): Promise<number> {
    const gen = ++this.gen;
    this.size = 0;
    const write = async () => {
      const body = JSON.stringify({ gen, state: await state });
      const file = join(this.dir, `${this.name}.snapshot.json`);
      await writeFileAtomic(file, body);
      for (const f of await readdir(this.dir)) {
        const m = new RegExp(`^${escape(this.name)}\\.(\\d+)\\.log$`).exec(f);
        if (m && Number(m[1]) < gen) await rm(join(this.dir, f), { force: true });
      }
      return body.length;
    };
    const done: Promise<number> = (this.snapshotting ?? Promise.resolve()).then(write).finally(() => {
      if (this.snapshotting === done) this.snapshotting = undefined;
    });
    this.snapshotting = done;
    return done;
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      // One write per run of records of the same generation.
      const gen = this.queue[0].gen;
      let n = 0;
      while (n < this.queue.length && this.queue[n].gen === gen) n++;
      const batch = this.queue.splice(0, n);
      try {
        const file = await this.fileFor(gen);
        const data = Buffer.from(batch.map((p) => p.line).join(''));
        const { bytesWritten } = await file.handle.write(data);
        if (bytesWritten < data.length) {
          // A full disk takes what fits in the file's last page and says so by a short count, not an error: cut the
          // fragment off, or the next record would be glued to it and both be unreadable after a restart.
          await file.handle.truncate(file.size).catch(() => undefined);
          throw new Error(`short write (${bytesWritten} of ${data.length} bytes; no space left on device?)`);
        }
        file.size += data.length;
        await file.handle.datasync();
        for (const p of batch) p.resolve();
      } catch (err) {
        this.log.error(`journal ${this.name}: write failed: ${errorMessage(err)}`);
        for (const p of batch) p.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    this.flushing = false;
  }

  private async fileFor(gen: number): Promise<{ gen: number; handle: FileHandle; size: number }> {
    if (this.file?.gen === gen) return this.file;
    await this.file?.handle.close();
    this.file = undefined;
    const handle = await open(join(this.dir, `${this.name}.${gen}.log`), 'a');
    this.file = { gen, handle, size: (await handle.stat()).size };
    // The new file's directory entry must survive power loss too.
    await syncDirectory(this.dir);
    return this.file;
  }

  /** Waits for queued records and a running snapshot, then closes the log. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.snapshotting) {
      await (this.snapshotting ?? new Promise((r) => setImmediate(r)));
    }
    await this.file?.handle.close();
    this.file = undefined;
  }
}

function escape(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
