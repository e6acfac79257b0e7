import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { DurableFile, StoreWriteError, writeFileAtomic, type StoreOptions } from '../../shared/durable/index.js';
import { ConfigError } from '../../shared/errors.js';
import { memoryLogger, tempDir } from '../helpers/cluster.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

const Items = z.object({ items: z.array(z.number()) });
type Items = z.infer<typeof Items>;
let n = 0;

function spec(file = join(dir.path, `items-${n++}.json`)) {
  return { file, what: 'item list', schema: Items, empty: (): Items => ({ items: [] }), serialize: (v: Items) => v };
}

/** The real atomic write, counted. */
function countingWrite() {
  const calls: string[] = [];
  const write = async (file: string, data: string) => {
    calls.push(data);
    await writeFileAtomic(file, data);
  };
  return { calls, write };
}

const onDisk = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Items;

describe('DurableFile: group commit', () => {
  it('1,000 concurrent commits share a few writes, and each resolves with its change on disk', async () => {
    const { calls, write } = countingWrite();
    const s = spec();
    const store = await DurableFile.open(s, { log: memoryLogger(), write });
    await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        store.data.items.push(i);
        await store.commit();
        expect(onDisk(s.file).items).toContain(i);
      }),
    );
    expect(onDisk(s.file).items).toHaveLength(1000);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(3);
    expect(store.stats).toEqual({ writes: calls.length, failures: 0 });
  });

  it('without group commit (the naive baseline) every commit is its own write', async () => {
    const { calls, write } = countingWrite();
    const store = await DurableFile.open(spec(), { log: memoryLogger(), write, groupCommit: false });
    await Promise.all(Array.from({ length: 50 }, (_, i) => (store.data.items.push(i), store.commit())));
    expect(calls).toHaveLength(50);
  });

  it('a commit resolves only after the write carrying it has finished', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const store = await DurableFile.open(spec(), {
      log: memoryLogger(),
      write: async (file, data) => {
        started.push(data);
        await gate;
        await writeFileAtomic(file, data);
      },
    });
    store.data.items.push(1);
    let done = false;
    const committed = store.commit().then(() => (done = true));
    await vi.waitFor(() => expect(started).toHaveLength(1));
    expect(done).toBe(false);
    release();
    await committed;
    expect(done).toBe(true);
  });

  it('a change made while a write is in flight goes into the next write, not the running one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { calls, write } = countingWrite();
    const store = await DurableFile.open(spec(), { log: memoryLogger(), write: async (f, d) => (calls.length === 0 ? (calls.push(d), await gate, writeFileAtomic(f, d)) : write(f, d)) });
    store.data.items.push(1);
    const first = store.commit();
    await vi.waitFor(() => expect(calls).toHaveLength(1));
    store.data.items.push(2);
    const second = store.commit();
    release();
    await Promise.all([first, second]);
    expect(calls.map((c) => JSON.parse(c).items)).toEqual([[1], [1, 2]]);
  });
});

describe('DurableFile: a failed write', () => {
  it('rejects the commits it carried with a StoreWriteError naming the cause, is logged and counted, and the next write retries the change', async () => {
    const log = memoryLogger();
    const failures: StoreWriteError[] = [];
    const s = spec();
    let full = true;
    const opts: StoreOptions = {
      log,
      observer: { failure: (e) => failures.push(e) },
      write: async (file, data) => {
        if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        await writeFileAtomic(file, data);
      },
    };
    const store = await DurableFile.open(s, opts);
    store.data.items.push(1);
    const err = await store.commit().catch((e) => e);
    expect(err).toBeInstanceOf(StoreWriteError);
    expect(err.message).toBe(`item list not written to ${s.file}: ENOSPC: no space left on device, write`);
    expect(store.stats.failures).toBe(1);
    expect(failures).toEqual([err]);
    expect(log.lines.some((l) => l.includes('error') && l.includes('no space left') && l.includes('the next write retries it'))).toBe(true);
    full = false;
    store.data.items.push(2);
    await store.commit();
    expect(onDisk(s.file).items).toEqual([1, 2]);
  });

  it('a failed deferred write is no unhandled rejection, and close() writes it later', async () => {
    const s = spec();
    let full = true;
    let failed!: () => void;
    const failedOnce = new Promise<void>((r) => (failed = r));
    const store = await DurableFile.open(s, {
      log: memoryLogger(),
      flushMs: 1,
      observer: { failure: () => failed() },
      write: async (file, data) => {
        if (full) throw new Error('EROFS: read-only file system');
        await writeFileAtomic(file, data);
      },
    });
    store.data.items.push(7);
    store.defer();
    await failedOnce;
    full = false;
    await store.close();
    expect(onDisk(s.file).items).toEqual([7]);
  });
});

describe('DurableFile: deferred writes and close', () => {
  it('defer() writes within flushMs without being awaited; close() writes what is pending', async () => {
    const { calls, write } = countingWrite();
    let committed!: (bytes: number) => void;
    const wrote = new Promise<number>((r) => (committed = r));
    const s = spec();
    const store = await DurableFile.open(s, { log: memoryLogger(), write, flushMs: 5, observer: { commit: (_ms, bytes) => committed(bytes) } });
    store.data.items.push(1);
    store.defer();
    store.defer();
    expect(calls).toHaveLength(0);
    expect(await wrote).toBe(Buffer.byteLength('{"items":[1]}'));
    expect(calls).toHaveLength(1);
    store.data.items.push(2);
    store.defer();
    await store.close();
    expect(onDisk(s.file).items).toEqual([1, 2]);
    await store.close(); // nothing pending: no write
    expect(calls).toHaveLength(2);
  });
});

describe('DurableFile: opening (one policy for a corrupt file)', () => {
  it('a missing file opens empty and creates its directory on the first write', async () => {
    const s = spec(join(dir.path, 'fresh', 'deeper', 'items.json'));
    const store = await DurableFile.open(s, { log: memoryLogger() });
    expect(store.data).toEqual({ items: [] });
    store.data.items.push(3);
    await store.commit();
    expect(onDisk(s.file).items).toEqual([3]);
    expect(readdirSync(join(dir.path, 'fresh', 'deeper'))).toEqual(['items.json']); // no temp files left
  });

  it.each([
    ['not JSON', '{"items":[1,', 'not JSON: '],
    ['not its shape', '{"items":["x"]}', 'items.0: '],
  ])('a file that is %s is moved aside with a log line naming the new path, and the store starts empty', async (_what, text, problem) => {
    const s = spec();
    writeFileSync(s.file, text);
    const log = memoryLogger();
    const store = await DurableFile.open(s, { log });
    expect(store.data).toEqual({ items: [] });
    const aside = readdirSync(dir.path).find((f) => f.startsWith(`${s.file.split('/').pop()}.corrupt-`));
    expect(aside).toBeDefined();
    expect(readFileSync(join(dir.path, aside!), 'utf8')).toBe(text);
    const line = log.lines.find((l) => l.includes(`moved it to ${join(dir.path, aside!)} and starting with an empty one`));
    expect(line).toContain(`${s.file} is not a valid item list (${problem}`);
    expect(line).toContain(' error ');
  });

  it('a file that cannot be read at all refuses the start (nothing to move aside)', async () => {
    const s = spec();
    mkdirSync(s.file); // EISDIR on read
    await expect(DurableFile.open(s, { log: memoryLogger() })).rejects.toThrow(ConfigError);
    await expect(DurableFile.open(s, { log: memoryLogger() })).rejects.toThrow(`--data-dir: cannot read ${s.file}: EISDIR`);
  });
});
