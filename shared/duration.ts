import { z } from 'zod';

/** `90s`, `5m`, `1h30m`, `2d`, `250ms`, or `0`: what `--soak`, `--offline-timeout` and window lengths take. */
const DURATION = /^(?:\d+(?:ms|s|m|h|d))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_MAX_MS = 366 * UNIT_MS.d;

export function isDuration(text: string): boolean {
  return text === '0' || DURATION.test(text);
}

/** Milliseconds, or undefined when `text` is not a duration (or longer than a year). */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(n) * UNIT_MS[unit];
  return ms <= DURATION_MAX_MS ? ms : undefined;
}

export const Duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 90s, 5m, 1h30m or 2d (at most 366d), got ${JSON.stringify(text.slice(0, 40))}` });
    return z.NEVER;
  }
  return ms;
});

/** `1h30m` from milliseconds, for messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
