import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('an unhandled rejection', () => {
  it('fails the test it surfaced in, naming where it came from (the suite setup file)', () => {
    const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/unhandled/vitest.config.ts'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    const output = run.stdout + run.stderr;
    expect(run.status).not.toBe(0);
    expect(output).toMatch(/1 unhandled rejection\(s\) during this test/);
    expect(output).toMatch(/unhandled rejection #1 since start: Error: nobody awaited me\n\s+at forgetfulOrigin .*careless\.fixture\.ts/);
    expect(output).toMatch(/Tests\s+1 failed \| 1 passed/);
  });
});
