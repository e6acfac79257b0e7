import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContentStore, CorruptContentError, writeFileAtomic } from '../../shared/durable/index.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { tempDir } from '../helpers/cluster.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('ContentStore', () => {
  const bytes = new TextEncoder().encode('\0asm some module bytes');
  const sha = sha256Hex(bytes);

  it('stores by sha256 and gives back verified bytes', async () => {
    const store = new ContentStore(join(dir.path, 'a'));
    expect(await store.put(bytes)).toBe(sha);
    expect(readdirSync(store.dir)).toEqual([`${sha}.wasm`]);
    expect(await store.has(sha)).toBe(true);
    expect(Buffer.from((await store.get(sha))!)).toEqual(Buffer.from(bytes));
  });

  it('a corrupt file is removed and reported; storing it again repairs it', async () => {
    const store = new ContentStore(join(dir.path, 'b'));
    await store.put(bytes);
    writeFileSync(join(store.dir, `${sha}.wasm`), 'garbage');
    const err = await store.get(sha).catch((e) => e);
    expect(err).toBeInstanceOf(CorruptContentError);
    expect(err.message).toMatch(new RegExp(`stored content ${sha} is corrupt \\(7 bytes hash to [0-9a-f]{64}\\); it was removed`));
    expect(await store.has(sha)).toBe(false);
    await store.put(bytes);
    expect(await store.get(sha)).toBeDefined();
  });

  it('a name that is not a sha256 never reaches the file system', async () => {
    const store = new ContentStore(join(dir.path, 'c'));
    writeFileSync(join(dir.path, 'secret.wasm'), 'x');
    expect(await store.get('../secret')).toBeUndefined();
    expect(await store.has('../secret')).toBe(false);
    await store.remove('../secret');
    expect(readFileSync(join(dir.path, 'secret.wasm'), 'utf8')).toBe('x');
    expect(await store.get('0'.repeat(64))).toBeUndefined();
  });
});

describe('writeFileAtomic', () => {
  it('replaces the content whole and leaves no temporary file; a failed write leaves the old content', async () => {
    const file = join(dir.path, 'atomic.json');
    await writeFileAtomic(file, 'old');
    await writeFileAtomic(file, 'new');
    expect(readFileSync(file, 'utf8')).toBe('new');
    await expect(writeFileAtomic(join(dir.path, 'missing-dir', 'x'), 'y')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir.path).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
