import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOTILLA_MAIN, spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { generateSigningKey, StepSignature } from '../../shared/signing.js';
import { manifestFor } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { jsonBody, tempDir } from '../helpers/cluster.js';
import { StepList } from '../../shared/modules.js';

const run = promisify(execFile);
const dir = tempDir();
const keys = { old: generateSigningKey(), next: generateSigningKey(), stranger: generateSigningKey() };
let coordinator: FlotillaProcess;
let api: string;

async function push(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(process.execPath, [FLOTILLA_MAIN, 'step', 'push', ...args, '--api', api], { cwd: dir.path })) };
  } catch (err) {
    return err as { code: number; stdout: string; stderr: string };
  }
}

beforeAll(async () => {
  for (const [name, k] of Object.entries(keys)) {
    writeFileSync(join(dir.path, `${name}.key`), k.privatePem, { mode: 0o600 });
    writeFileSync(join(dir.path, `${name}.pub`), k.publicPem);
  }
  const bytes = wat('supervised-crashy');
  writeFileSync(join(dir.path, 'crashy.wasm'), bytes);
  writeFileSync(join(dir.path, 'crashy.manifest.json'), JSON.stringify(manifestFor(bytes, { name: 'crashy', version: '1' })));
  const args = ['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', join(dir.path, 'data')];
  coordinator = spawnFlotilla([...args, '--trust', join(dir.path, 'old.pub'), '--trust', join(dir.path, 'next.pub')], { stderr: 'ignore' });
  api = `http://127.0.0.1:${(await coordinator.waitFor('listening')).http}`;
}, 30_000);
afterAll(async () => {
  await coordinator?.stop();
  dir.cleanup();
});

const steps = async () => StepList.parse(await (await fetch(`${api}/api/v1/steps`)).json()).steps;

describe('a coordinator with trusted publisher keys', () => {
  it('refuses an unsigned upload, one signed by an untrusted key, and a tampered one, with 403 naming the reason', async () => {
    const unsigned = await push('crashy.wasm');
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toMatch(/403.*step refused: crashy@1 is unsigned \(trusted keys: /);
    const stranger = await push('crashy.wasm', '--sign', 'stranger.key');
    expect(stranger.stderr).toContain(`step refused: crashy@1 is signed by untrusted key ${keys.stranger.keyId}`);
    // Signed for crashy@1, pushed as crashy@2: the signature does not cover this name@version.
    const { stdout } = await run(process.execPath, [FLOTILLA_MAIN, 'step', 'sign', 'crashy.wasm', '--key', 'old.key'], { cwd: dir.path });
    expect(stdout).toContain('crashy.sig.json');
    const tampered = await fetch(`${api}/api/v1/steps`, {
      method: 'POST',
      body: JSON.stringify({ name: 'crashy', version: '2', module: Buffer.from(wat('init-fails')).toString('base64'), signature: StepSignature.parse(JSON.parse(readFileSync(join(dir.path, 'crashy.sig.json'), 'utf8'))) }),
    });
    expect(tampered.status).toBe(403);
    expect((await jsonBody(tampered)).error.message).toMatch(new RegExp(`crashy@2: bad signature by key ${keys.old.keyId}`));
    expect(await steps()).toEqual([]);
  });

  it('accepts a build signed by either trusted key (rotation): step sign then push, or push --sign', async () => {
    const signed = await push('crashy.wasm');
    expect(signed).toMatchObject({ code: 0, stdout: expect.stringContaining('crashy@1 sha256') });
    const rotated = await push('crashy.wasm', '--version', '1.1', '--sign', 'next.key');
    expect(rotated.code).toBe(0);
    expect((await steps()).map((s) => [s.ref, s.signature?.keyId])).toEqual([
      ['crashy@1', keys.old.keyId],
      ['crashy@1.1', keys.next.keyId],
    ]);
  });
});
