import { readFileSync } from 'node:fs';

/**
 * RSS and its private part (RssAnon: heaps, stacks, malloc). The rest (RssFile) is clean pages of the executable
 * mapped from disk, which the kernel shares between processes and can drop under memory pressure.
 */
export function rss(pid: number): { total: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { total: kb('VmRSS'), anon: kb('RssAnon') };
}

/** Idle RSS: sampled every 200 ms over 4 s after start-up; the median of the last 2 s (GC has settled by then). */
export async function idleRss(pid: number): Promise<{ total: number; anon: number }> {
  const samples: { total: number; anon: number }[] = [];
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 200));
    samples.push(rss(pid));
  }
  const settled = samples.slice(10);
  return { total: median(settled.map((s) => s.total)), anon: median(settled.map((s) => s.anon)) };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
