import { afterEach, describe, expect, it, vi } from 'vitest';
import { everyPeriod } from '../../agent/health.js';

describe('health is scheduled as a period', () => {
  afterEach(() => void vi.useRealTimers());

  it('ticks every 7 s (not a divisor of 60) until stopped', () => {
    vi.useFakeTimers();
    const ticks: number[] = [];
    const start = Date.now();
    const stop = everyPeriod(7000, () => ticks.push(Date.now() - start));
    vi.advanceTimersByTime(21_000);
    expect(ticks).toEqual([7000, 14_000, 21_000]);
    stop();
    vi.advanceTimersByTime(70_000);
    expect(ticks).toHaveLength(3);
  });
});
