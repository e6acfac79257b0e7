import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOTILLA_MAIN } from '../../cli/processes.js';
import { DeviceDetail } from '../../shared/api.js';
import { eventually, tempDir } from '../helpers/cluster.js';
import { freePort, runLine, shellBlocks, shellLines, shimDir, type Running } from './shell-blocks.js';

/**
 * README.md's "Run a cluster by hand" block, run as a reader runs it: each line in its own shell, from the
 * repository root, with `flotilla` on PATH (this checkout's build, as `npm link` would put it). Only what the README
 * says may be changed is: ports 1883 and 8080 and the directory ./by-hand. A line's comment says how it behaves:
 * "keeps running; prints {"event":"NAME"...}" (a terminal of its own, ready at that line), "shows: TEXT" (TEXT
 * appears on stdout; a --follow line is then ended with Ctrl-C); other lines must exit 0.
 */
const ROOT = join(import.meta.dirname, '../..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const dir = tempDir('flotilla-readme-');
const running: Running[] = [];

afterAll(async () => {
  // The agent first, then the coordinator (reverse start order), as a reader closing terminals would.
  for (const r of running.reverse()) await r.interrupt();
  dir.cleanup();
});

describe('README.md runs verbatim', () => {
  it('has the blocks this test knows about (a new one must be added here, run or excused)', () => {
    const firstLines = [...readme.matchAll(/^```sh\n(.*)$/gm)].map((m) => m[1].split('  #')[0].trim());
    expect(firstLines).toEqual([
      'npm install && npm start', // Quick start: installs and runs the demo (test/demo.test.ts runs the demo)
      'npx flotilla devices --api http://127.0.0.1:PORT --api-token TOKEN', // against the demo: test/demo.test.ts
      expect.stringMatching(/^flotilla coordinator /), // Run a cluster by hand: below
    ]);
  });

  it('"Run a cluster by hand" ends with edge-01 running the example tree and flotilla logs showing its step\'s line', async () => {
    const [mqtt, http] = [await freePort(), await freePort()];
    const [block] = shellBlocks(readme, '### Run a cluster by hand');
    const text = block.replaceAll(/\b1883\b/g, String(mqtt)).replaceAll(/\b8080\b/g, String(http)).replaceAll('./by-hand', join(dir.path, 'by-hand'));
    const env = { ...process.env, PATH: `${shimDir(join(dir.path, 'bin'), { flotilla: FLOTILLA_MAIN })}:${process.env.PATH}` };
    for (const key of Object.keys(env)) if (key.startsWith('FLOTILLA_')) delete env[key];
    const lines = shellLines(text);
    expect(lines.length).toBeGreaterThanOrEqual(8);

    for (const { command, comment } of lines) {
      const line = runLine(command, { cwd: ROOT, env });
      const daemon = /keeps running; prints \{"event":"(\w+)"/.exec(comment);
      const shows = /shows: (.*)$/.exec(comment)?.[1];
      if (daemon) {
        running.push(line);
        await line.until((l) => l.startsWith(`{"event":"${daemon[1]}"`), `the "${daemon[1]}" event`);
      } else if (shows !== undefined && command.includes('--follow')) {
        await line.until((l) => l.includes(shows), `"${shows}"`);
        await line.interrupt();
      } else {
        const code = await line.exited;
        expect(code, `${command}\nstderr: ${line.stderr.join('\n')}`).toBe(0);
        if (shows !== undefined) expect(line.stdout.join('\n')).toContain(shows);
      }
    }

    // Where the block leaves the reader: the fixed spec runs on edge-01.
    const tree = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${http}/api/v1/devices/edge-01`, { headers: { authorization: 'Bearer change-me-now' } });
      const detail = DeviceDetail.parse(await res.json());
      return detail.tree.find((c) => c.path === 'root/avg' && c.state === 'running') && detail;
    }, 20_000, 'root/avg running on edge-01');
    expect(tree.steps.map((s) => s.ref)).toEqual(['moving-average@1.0.0']);
  }, 180_000);
});
