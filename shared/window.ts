import { parse as parseCron, validateDetailed } from 'node-cron';
import { z } from 'zod';
import { formatDuration, isDuration, parseDuration } from './duration.js';
import { ValidationError, errorMessage } from './errors.js';

/**
 * Maintenance windows of a rollout: `CRON DURATION [TZ]` (`'0 2 * * * 2h Europe/Paris'`: from 02:00 Paris time for
 * two hours). The cron expression is node-cron's dialect, as step inputs use (5 fields, or 6 with seconds first;
 * day of month and day of week must both match); its L, W and # forms are not accepted here.
 * Pure: every question takes the time it is asked at.
 */
export interface Window {
  source: string;
  cron: string;
  durationMs: number;
  timeZone: string;
  fields: { second: Set<number>; minute: Set<number>; hour: Set<number>; day: Set<number>; month: Set<number>; weekday: Set<number> };
}

/** `open` until `closesAt`, or closed until `opensAt` (null: no opening within a year). */
export type WindowState = { open: true; closesAt: number | null } | { open: false; opensAt: number | null };

export function parseWindow(source: string): Window {
  const fail = (message: string): never => {
    throw new ValidationError(`window ${JSON.stringify(source.slice(0, 120))}: ${message}`);
  };
  const tokens = source.trim().split(/\s+/);
  const at = tokens.findIndex((t, i) => i >= 5 && isDuration(t));
  if (at !== 5 && at !== 6) fail('expected "CRON DURATION [TZ]": a cron expression of 5 or 6 fields, then a duration such as 2h');
  if (tokens.length > at + 2) fail(`unexpected ${JSON.stringify(tokens[at + 2])} after the time zone`);
  const cron = tokens.slice(0, at).join(' ');
  const validation = validateDetailed(cron);
  if (!validation.valid) fail(`cron ${validation.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
  const parsed = parseCron(cron);
  const numbers = (field: keyof typeof parsed): Set<number> => {
    const values = parsed[field];
    if (values.some((v) => typeof v !== 'number')) fail(`cron ${field}: the L, W and # forms are not supported in windows`);
    return new Set(values as number[]);
  };
  const durationMs = parseDuration(tokens[at]) ?? fail(`duration ${JSON.stringify(tokens[at])}: at most 366d`);
  if (durationMs < 1000) fail('the duration must be at least 1s');
  const timeZone = tokens[at + 1] ?? 'UTC';
  try {
    formatterFor(timeZone);
  } catch {
    fail(`unknown time zone ${JSON.stringify(timeZone)} (an IANA name such as Europe/Paris, or UTC)`);
  }
  const fields = {
    second: numbers('second'),
    minute: numbers('minute'),
    hour: numbers('hour'),
    day: numbers('dayOfMonth'),
    month: numbers('month'),
    // node-cron accepts 7 for Sunday and reports it as 0.
    weekday: numbers('dayOfWeek'),
  };
  return { source, cron, durationMs, timeZone, fields };
}

export function describeWindow(w: Window): string {
  return `${w.cron} for ${formatDuration(w.durationMs)} (${w.timeZone})`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function wallClock(timeZone: string, ms: number) {
  const parts: Record<string, string> = Object.create(null);
  for (const p of formatterFor(timeZone).formatToParts(ms)) parts[p.type] = p.value;
  return { month: Number(parts.month), day: Number(parts.day), weekday: WEEKDAYS[parts.weekday], hour: Number(parts.hour), minute: Number(parts.minute), second: Number(parts.second) };
}

const SEARCH_LIMIT = 20_000;
const HORIZON_MS = 400 * 86_400_000;

/** The first time ≥ `from` (whole seconds) the cron expression fires, or null within 400 days. */
export function nextOpening(w: Window, from: number): number | null {
  const { fields } = w;
  let t = Math.ceil(from / 1000) * 1000;
  const horizon = t + HORIZON_MS;
  for (let i = 0; i < SEARCH_LIMIT && t <= horizon; i++) {
    const c = wallClock(w.timeZone, t);
    const intoDay = c.hour * 3600 + c.minute * 60 + c.second;
    // Skip whole days, hours and minutes that cannot match. A day jump stops an hour short of midnight, so a
    // 23-hour (daylight-saving) day cannot carry it past the next day's first hour.
    if (!fields.month.has(c.month) || !fields.day.has(c.day) || !fields.weekday.has(c.weekday)) {
      const untilMidnight = 86_400 - intoDay;
      t += (untilMidnight > 3600 ? untilMidnight - 3600 : untilMidnight) * 1000;
    }
    else if (!fields.hour.has(c.hour)) t += (3600 - c.minute * 60 - c.second) * 1000;
    else if (!fields.minute.has(c.minute)) t += (60 - c.second) * 1000;
    else if (!fields.second.has(c.second)) t += 1000;
    else return t;
  }
  return null;
}

function stateOf(w: Window, now: number): { open: true; closesAt: number } | { open: false; opensAt: number | null } {
  // Open iff it fired within the last `durationMs`: search from just after now - duration.
  const fired = nextOpening(w, now - w.durationMs + 1);
  if (fired !== null && fired <= now) return { open: true, closesAt: fired + w.durationMs };
  return { open: false, opensAt: fired !== null && fired > now ? fired : nextOpening(w, now) };
}

/** Inside any of the windows (no windows: always open). A re-check at `closesAt` finds later overlapping openings. */
export function windowState(windows: readonly Window[], now: number): WindowState {
  if (windows.length === 0) return { open: true, closesAt: null };
  const states = windows.map((w) => stateOf(w, now));
  const closes = states.flatMap((s) => (s.open ? [s.closesAt] : []));
  if (closes.length) return { open: true, closesAt: Math.max(...closes) };
  const opens = states.map((s) => (s.open ? null : s.opensAt)).filter((t): t is number => t !== null);
  return { open: false, opensAt: opens.length ? Math.min(...opens) : null };
}

export const WindowSchema = z.string().max(200).transform((source, ctx) => {
  try {
    return parseWindow(source);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
    return z.NEVER;
  }
});
