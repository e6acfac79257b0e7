import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal } from '../../shared/journal.js';
import { memoryLogger, tempDir } from '../helpers/cluster.js';

// A full tmpfs, as in test/hardening/full-disk.test.ts: a child coordinator's uplink spool log was left at exactly
// one page there, its last record cut short by the full disk yet reported durable.
const dir = tempDir();
const mountPoint = join(dir.path, 'data');
let mountProblem: string | undefined;
try {
  mkdirSync(mountPoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'pipe' });
} catch (err) {
  mountProblem = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
}

afterAll(() => {
  if (!mountProblem) execFileSync('umount', [mountPoint]);
  rmSync(dir.path, { recursive: true, force: true });
});

describe.skipIf(mountProblem !== undefined)(`a journal on a disk that fills up${mountProblem ? ` (skipped: mount failed: ${mountProblem})` : ''}`, () => {
  it('a record the full disk cut short is refused, not reported durable, and leaves no fragment the next record is glued to', async () => {
    type Rec = { n: number; pad: string };
    const log = memoryLogger();
    const { journal } = await Journal.open<Rec, never>(mountPoint, 'j', log);
    const durable: number[] = [];
    const append = (n: number) =>
      journal.append({ n, pad: 'x'.repeat(700) }).then(
        () => void durable.push(n),
        () => undefined,
      );
    await append(0); // the log's first page
    const filler = join(mountPoint, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(256 * 1024));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err; // what fitted stays: the disk is now full
    }
    // Records fit in the log's page until one crosses its end: that one is cut short by the full disk.
    for (let n = 1; n <= 8; n++) await append(n);
    expect(statSync(join(mountPoint, 'j.0.log')).size).toBeLessThanOrEqual(4096);
    rmSync(filler);
    await append(9); // room again
    await journal.close();

    const lines: string[] = [];
    const again = await Journal.open<Rec, never>(mountPoint, 'j', memoryLogger(lines));
    expect(again.records.map((r) => r.n)).toEqual(durable);
    expect(durable).toContain(9);
    expect(durable.length).toBeLessThan(10);
    expect(lines.filter((l) => l.includes('unreadable'))).toEqual([]);
    await again.journal.close();
  });
});
