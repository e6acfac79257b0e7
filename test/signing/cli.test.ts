import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOTILLA_MAIN } from '../../cli/processes.js';
import { signatureProblem, trustedKeys } from '../../shared/signing.js';
import { manifestFor } from '../../shared/step-manifest.js';
import { wat } from '../runtime/harness.js';
import { tempDir } from '../helpers/cluster.js';

const run = promisify(execFile);
const dir = tempDir();
afterAll(() => dir.cleanup());
const flotilla = (...args: string[]) => run(process.execPath, [FLOTILLA_MAIN, ...args], { cwd: dir.path });

describe('flotilla keys generate and step sign', () => {
  it('writes a private key only its owner can read, never overwrites one, and signs a build beside its manifest', async () => {
    const { stdout } = await flotilla('keys', 'generate', 'acme');
    expect(stdout).toMatch(/^acme\.key acme\.pub \(key id [0-9a-f]{16}\)/);
    expect(statSync(join(dir.path, 'acme.key')).mode & 0o777).toBe(0o600);
    await expect(flotilla('keys', 'generate', 'acme')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('EEXIST') });

    const bytes = wat('supervised-crashy');
    const manifest = manifestFor(bytes, { name: 'crashy', version: '2', limits: { timeBudgetMs: 200 } });
    writeFileSync(join(dir.path, 'crashy.wasm'), bytes);
    writeFileSync(join(dir.path, 'crashy.manifest.json'), JSON.stringify(manifest));
    await flotilla('step', 'sign', 'crashy.wasm', '--key', 'acme.key');
    const file = JSON.parse(readFileSync(join(dir.path, 'crashy.sig.json'), 'utf8'));
    expect(file).toMatchObject({ ref: 'crashy@2', sha256: manifest.sha256 });
    const trusted = trustedKeys([createPublicKey(readFileSync(join(dir.path, 'acme.pub'), 'utf8'))]);
    expect(signatureProblem(trusted, { ref: 'crashy@2', sha256: manifest.sha256, limits: manifest.limits }, file)).toBeUndefined();
  });

  it('refuses to sign without a manifest or with a key file that is not an ed25519 private key, and to trust a private key', async () => {
    writeFileSync(join(dir.path, 'bare.wasm'), wat('supervised-crashy'));
    await expect(flotilla('step', 'sign', 'bare.wasm', '--key', 'acme.key')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('no manifest beside bare.wasm') });
    await expect(flotilla('step', 'sign', 'crashy.wasm', '--key', 'acme.pub')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('private key acme.pub') });
    // A device given a private key to trust would hold the publisher's secret: refused at start.
    await expect(flotilla('agent', '--coordinator', 'mqtt://127.0.0.1:1', '--id', 'd', '--token', 't', '--trust', 'acme.key')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--trust acme.key: this is a private key'),
    });
  });

  it('keys revoke takes a key file or a key id, nothing else', async () => {
    await expect(flotilla('keys', 'revoke', 'no-such.pub', '--api', 'http://127.0.0.1:1')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('keys revoke: no-such.pub is neither a key file nor a key id (16 lowercase hex digits)'),
    });
  });
});
