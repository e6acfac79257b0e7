import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StepCorruptError, StepLoadError, StepNotFoundError, StepRuntime, StepStore } from '../../agent/runtime/index.js';
import { manifestFor } from '../../shared/step-manifest.js';
import { tempDir } from '../helpers/cluster.js';
import { bytes, startRecorded, wat } from './harness.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('content-addressed step store', () => {
  const echo = wat('echo');
  const manifest = manifestFor(echo, { name: 'echo', version: '1.0.0', limits: { timeBudgetMs: 250 } });

  it('stores <sha256>.wasm and its manifest, and gives back verified bytes that run', async () => {
    const store = new StepStore(dir.path);
    await store.put(echo, manifest);
    expect(readdirSync(store.dir).sort()).toEqual([`${manifest.sha256}.json`, `${manifest.sha256}.wasm`]);
    expect(await store.has(manifest.sha256)).toBe(true);
    const got = await store.get(manifest.sha256);
    expect(got.manifest).toEqual(manifest);
    const runtime = new StepRuntime();
    const s = await startRecorded(runtime, await runtime.load(got.bytes, got.manifest));
    s.handle.push(bytes('stored'));
    expect(Buffer.from((await s.outputs(1))[0]).toString()).toBe('stored');
    await s.handle.stop();
  });

  it('refuses to store bytes that do not match the manifest', async () => {
    await expect(new StepStore(dir.path).put(wat('trap'), manifest)).rejects.toThrow(StepLoadError);
  });

  it.each([
    ['truncated', (file: string) => truncateSync(file, 20)],
    ['bit-flipped', (file: string) => writeFileSync(file, readFileSync(file).map((b, i) => (i === 30 ? b ^ 1 : b)))],
  ])('detects a %s module, removes it, and accepts it again after a refetch', async (_, damage) => {
    const store = new StepStore(dir.path);
    await store.put(echo, manifest);
    damage(join(store.dir, `${manifest.sha256}.wasm`));
    const err = await store.get(manifest.sha256).catch((e) => e);
    expect(err).toBeInstanceOf(StepCorruptError);
    expect(err.sha256).toBe(manifest.sha256);
    expect(err.message).toMatch(/is corrupt \(\d+ bytes hash to [0-9a-f]{64}\); it was removed from the store, fetch it again/);
    expect(await store.has(manifest.sha256)).toBe(false);
    await store.put(echo, manifest); // the refetch
    expect((await store.get(manifest.sha256)).bytes.length).toBe(echo.length);
  });

  it('detects a corrupt manifest', async () => {
    const store = new StepStore(dir.path);
    await store.put(echo, manifest);
    writeFileSync(join(store.dir, `${manifest.sha256}.json`), '{"name":');
    await expect(store.get(manifest.sha256)).rejects.toThrow(/is corrupt \(manifest: /);
  });

  it('reports a missing module as not found', async () => {
    await expect(new StepStore(dir.path).get('0'.repeat(64))).rejects.toThrow(StepNotFoundError);
    await expect(new StepStore(dir.path).get('../etc/passwd')).rejects.toThrow(StepNotFoundError);
  });

  it('leaves no temporary files behind', () => {
    expect(readdirSync(join(dir.path, 'steps')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
