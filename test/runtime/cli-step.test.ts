import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/step-manifest.js';
import { tempDir } from '../helpers/cluster.js';
import { EXAMPLES, exampleStep } from './example-steps.js';
import { wat } from './harness.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

/** Runs the built `flotilla step` command (dist/cli/step.js; cli/main.ts mounts the same object) in a real process. */
function step(args: string[], input = '') {
  const entry = join(import.meta.dirname, '../../dist/cli/step.js');
  const code = `const { stepCommand } = await import(${JSON.stringify(entry)}); process.exitCode = await stepCommand.run(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...args], { input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('flotilla step', () => {
  it('build compiles a step folder to .wasm plus a manifest with its sha256', () => {
    const out = join(dir.path, 'build');
    const r = step(['build', join(EXAMPLES, 'threshold-alarm'), '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const wasm = readFileSync(join(out, 'threshold-alarm.wasm'));
    const manifest = JSON.parse(readFileSync(join(out, 'threshold-alarm.manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: 'threshold-alarm', version: '1.0.0', abi: 1, sha256: sha256Hex(wasm), limits: { maxMemoryPages: 256 } });
    expect(r.stdout).toContain(manifest.sha256);
  });

  it('run feeds stdin lines through the runtime and prints one output per line', async () => {
    const { bytes, manifest } = await exampleStep('csv-to-json');
    const wasm = join(dir.path, 'csv.wasm');
    writeFileSync(wasm, bytes);
    writeFileSync(join(dir.path, 'csv.manifest.json'), JSON.stringify(manifest));
    const r = step(['run', wasm, '--config', '{"columns":"id,t"}'], '1,20.5\n2,bad\n\nonly-one\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"id":1,"t":20.5}\n{"id":2,"t":"bad"}\n');
    expect(r.stderr).toBe('[csv-to-json] warn: skipped a row with 1 cells, expected 2\n');
  });

  it('run ends as soon as the step finishes, without waiting for the end of stdin', async () => {
    const wasm = join(dir.path, 'finish.wasm');
    writeFileSync(wasm, wat('finish'));
    const entry = join(import.meta.dirname, '../../dist/cli/step.js');
    const code = `const { stepCommand } = await import(${JSON.stringify(entry)}); process.exitCode = await stepCommand.run(process.argv.slice(1));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code, 'run', wasm], { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stdin.write('\x00a\n\x01b\n'); // the second line starts with byte 1: process returns 1, "finished"
    const [exitCode] = await once(child, 'exit'); // stdin is still open
    expect(exitCode).toBe(0);
    expect(stdout).toBe('\x00a\n\x01b\n');
  });

  it('run reports an abnormal exit with its reason and exit code 1', () => {
    const wasm = join(dir.path, 'trap.wasm');
    writeFileSync(wasm, wat('trap'));
    const r = step(['run', wasm], 'boom\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('flotilla step run: the step exited: trap:unreachable\n');
  });

  it('run refuses a module with a foreign import, naming it', () => {
    const wasm = join(dir.path, 'foreign.wasm');
    writeFileSync(wasm, wat('foreign-import'));
    const r = step(['run', wasm], '');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('forbidden import "wasi_snapshot_preview1.fd_write"');
  });

  it('--help describes both subcommands; bad flags are one-line errors', () => {
    expect(step(['build', '--help']).stdout).toContain('flotilla step run FILE.wasm [--config JSON]');
    expect(step(['run', 'x.wasm', '--config', '{nope']).stderr).toContain('--config: not valid JSON');
  });
});
