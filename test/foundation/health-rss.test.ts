import { describe, expect, it } from 'vitest';
import { parseVmRss, procRss } from '../../agent/health.js';

describe('RSS where process.memoryUsage().rss is 0 (qemu-user)', () => {
  it('reads VmRSS from /proc/self/status', () => {
    expect(parseVmRss('Name:\tnode\nVmHWM:\t  50000 kB\nVmRSS:\t   41236 kB\nRssAnon:\t1 kB\n')).toBe(41236 * 1024);
    expect(parseVmRss('Name:\tnode\n')).toBeUndefined();
    // This process's own, within a factor of two of what Node reports (the two are read at different moments).
    const real = procRss();
    expect(real).toBeGreaterThan(process.memoryUsage().rss / 2);
    expect(real).toBeLessThan(process.memoryUsage().rss * 2);
  });

  it('is 0, never a throw, when /proc cannot be read', () => {
    expect(procRss(() => { throw new Error('ENOENT'); })).toBe(0);
    expect(procRss(() => 'garbage')).toBe(0);
  });
});
