import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../shared/duration.js';
import { nextOpening, parseWindow, windowState } from '../../shared/window.js';

const at = (iso: string) => Date.parse(iso);

describe('durations', () => {
  it.each([
    ['0', 0],
    ['250ms', 250],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  it.each(['', '5', '5x', 'h', '1.5h', '-1s', '400d'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('windows: cron + duration + time zone', () => {
  it('parses 5- and 6-field expressions, the duration and the zone (UTC by default)', () => {
    const w = parseWindow('0 2 * * * 2h Europe/Paris');
    expect(w).toMatchObject({ cron: '0 2 * * *', durationMs: 7_200_000, timeZone: 'Europe/Paris' });
    expect(parseWindow('*/10 * * * * * 5s')).toMatchObject({ cron: '*/10 * * * * *', durationMs: 5000, timeZone: 'UTC' });
  });

  it.each([
    ['0 2 * * *', /expected "CRON DURATION \[TZ\]"/],
    ['0 2 * * * 2h Mars/Olympus', /unknown time zone "Mars\/Olympus"/],
    ['0 25 * * * 2h', /cron hour: 25 is a invalid expression for hour/],
    ['0 0 L * * 1h', /the L, W and # forms are not supported/],
    ['0 2 * * * 2h UTC extra', /unexpected "extra" after the time zone/],
    ['0 2 * * * 500ms', /at least 1s/],
  ])('rejects %j: %s', (source, message) => expect(() => parseWindow(source)).toThrow(message));

  it('is open from an opening for its duration, then closed until the next opening', () => {
    const w = [parseWindow('0 2 * * * 2h UTC')];
    expect(windowState(w, at('2026-03-10T01:59:59Z'))).toEqual({ open: false, opensAt: at('2026-03-10T02:00:00Z') });
    expect(windowState(w, at('2026-03-10T02:00:00Z'))).toEqual({ open: true, closesAt: at('2026-03-10T04:00:00Z') });
    expect(windowState(w, at('2026-03-10T03:59:59.999Z'))).toEqual({ open: true, closesAt: at('2026-03-10T04:00:00Z') });
    expect(windowState(w, at('2026-03-10T04:00:00Z'))).toEqual({ open: false, opensAt: at('2026-03-11T02:00:00Z') });
  });

  it('follows the time zone, across a daylight-saving change', () => {
    const paris = parseWindow('30 0 * * * 1h Europe/Paris');
    // 2026-03-29: Paris moves from UTC+1 to UTC+2 at 02:00 local; 00:30 local is 23:30 UTC the day before.
    expect(nextOpening(paris, at('2026-03-28T12:00:00Z'))).toBe(at('2026-03-28T23:30:00Z'));
    expect(nextOpening(paris, at('2026-03-29T00:00:00Z'))).toBe(at('2026-03-29T22:30:00Z'));
    const ny = parseWindow('0 9 * * 1-5 8h America/New_York');
    // Saturday 2026-03-07 → Monday 2026-03-09 09:00 EDT (UTC-4; DST began on Sunday the 8th).
    expect(windowState([ny], at('2026-03-07T15:00:00Z'))).toEqual({ open: false, opensAt: at('2026-03-09T13:00:00Z') });
  });

  it('with several windows, open in any; overlapping openings extend it; none within a year: null', () => {
    const two = [parseWindow('0 2 * * * 1h'), parseWindow('0 14 * * * 1h')];
    expect(windowState(two, at('2026-01-01T05:00:00Z'))).toEqual({ open: false, opensAt: at('2026-01-01T14:00:00Z') });
    expect(windowState(two, at('2026-01-01T14:30:00Z'))).toEqual({ open: true, closesAt: at('2026-01-01T15:00:00Z') });
    const everyMinute = [parseWindow('0 * * * * * 5m')];
    expect(windowState(everyMinute, at('2026-01-01T00:10:30Z'))).toEqual({ open: true, closesAt: at('2026-01-01T00:11:00Z') });
    expect(windowState(everyMinute, at('2026-01-01T00:11:00Z'))).toEqual({ open: true, closesAt: at('2026-01-01T00:12:00Z') });
    expect(windowState([parseWindow('0 0 29 2 * 1h')], at('2026-01-01T00:00:00Z'))).toEqual({ open: false, opensAt: null });
    expect(windowState([], 0)).toEqual({ open: true, closesAt: null });
  });

  it('seconds-granular windows (a wave held a few seconds)', () => {
    const w = [parseWindow('*/10 * * * * * 3s')];
    expect(windowState(w, at('2026-01-01T00:00:04Z'))).toEqual({ open: false, opensAt: at('2026-01-01T00:00:10Z') });
    expect(windowState(w, at('2026-01-01T00:00:12Z'))).toEqual({ open: true, closesAt: at('2026-01-01T00:00:13Z') });
  });
});
