import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator } from '../helpers/cluster.js';
import { compileWat, wat } from '../runtime/harness.js';

/** Issue 11, finding 6: the coordinator accepted any upload that starts with the Wasm magic number. */
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
beforeAll(async () => {
  cluster = await startCoordinator();
});
afterAll(async () => {
  await cluster?.stop();
});

const upload = async (name: string, bytes: Uint8Array, limits?: Record<string, number>) => {
  const res = await fetch(`${cluster.api}/api/v1/steps`, { method: 'POST', body: JSON.stringify({ name, version: '1.0.0', module: Buffer.from(bytes).toString('base64'), ...(limits ? { limits } : {}) }) });
  return { status: res.status, message: ((await res.json()) as { error?: { message: string } }).error?.message ?? '' };
};
const steps = async () => ((await (await fetch(`${cluster.api}/api/v1/steps`)).json()) as { steps: { name: string }[] }).steps.map((s) => s.name);

describe('a step upload is checked against the step ABI before the registry accepts it', () => {
  it.each([
    ['junk after the magic number', Buffer.concat([Buffer.from('\0asm\x01\0\0\0'), Buffer.from('not a section at all')]), /module: malformed Wasm binary/],
    ['a WASI import', wat('echo', (t) => t.replace('(module', '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))')), /forbidden import "wasi_snapshot_preview1.fd_write"/],
    ['a 60,000-page memory', compileWat('huge', '(module (memory (export "memory") 60000) (func (export "alloc") (param i32) (result i32) i32.const 0) (func (export "process") (param i32 i32) (result i32) i32.const 0))'), /memory starts at 60000 pages, over the manifest limit of 256 pages/],
    ['no process export', wat('missing-process'), /missing export "process"/],
    ['no memory export', wat('missing-memory'), /missing export "memory"/],
  ])('%s is a 400 naming the reason, and nothing is registered', async (_what, bytes, reason) => {
    const res = await upload('bad-step', bytes);
    expect(res.status).toBe(400);
    expect(res.message).toMatch(reason);
    expect(await steps()).not.toContain('bad-step');
  });

  it('a module that meets the ABI is accepted (201), with the memory limit of its manifest applied', async () => {
    expect((await upload('echo', wat('echo'))).status).toBe(201);
    expect((await upload('big', wat('big-initial-memory'), { maxMemoryPages: 1 })).status).toBe(400);
    expect(await steps()).toEqual(['echo']);
  });
});
