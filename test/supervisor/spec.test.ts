import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.js';
import { ExitReason, SupervisorEvent, isCleanExit } from '../../shared/supervisor-events.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';

const issueExample = {
  id: 'root',
  strategy: 'one_for_one',
  intensity: 1,
  period: 5,
  autoShutdown: 'never',
  children: [
    { id: 'parse', step: 'csv-parse@1.2.0', restart: 'permanent', shutdown: 5000, config: {}, input: 'sensors/+/raw', output: 'parsed' },
    { id: 'alarms', supervisor: { id: 'alarms', strategy: 'rest_for_one', children: [] }, restart: 'permanent' },
  ],
};

function problems(spec: unknown): string {
  try {
    parseSupervisorSpec(spec);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('spec was accepted');
}

describe('supervisor spec', () => {
  it('a worker runs in its own host if it names one, else in its nearest supervisor\'s, else in the default', () => {
    const spec = parseSupervisorSpec({
      id: 'root',
      host: 'main',
      children: [
        { id: 'a', step: 'a@1' },
        { id: 'b', step: 'b@1', host: 'solo' },
        { id: 'sub', supervisor: { host: 'side', children: [{ id: 'c', step: 'c@1' }, { id: 'deep', supervisor: { children: [{ id: 'd', step: 'd@1' }] } }] } },
      ],
    });
    const hosts: string[] = [];
    const walk = (s: typeof spec) => s.children.forEach((c) => ('supervisor' in c ? walk(c.supervisor) : hosts.push(`${c.id}:${c.host}`)));
    walk(spec);
    expect(hosts).toEqual(['a:main', 'b:solo', 'c:side', 'd:side']);
    expect(parseSupervisorSpec({ id: 'r', children: [{ id: 'a', step: 'a@1' }] }).children[0]).not.toHaveProperty('host');
    expect(problems({ id: 'r', children: [{ id: 'a', step: 'a@1', host: '../x' }] })).toContain('children.0.host: must be 1-64 characters');
  });

  it('parses the example of the issue', () => {
    const spec = parseSupervisorSpec(issueExample);
    expect(spec.children[1]).toMatchObject({ id: 'alarms', shutdown: 'infinity', supervisor: { strategy: 'rest_for_one' } });
  });

  it('fills the OTP defaults: one_for_one, intensity 1, period 5, never; permanent; 5000 ms for workers, infinity for supervisors', () => {
    const spec = parseSupervisorSpec({ id: 'r', children: [{ id: 'w', step: 's@1' }, { id: 's', supervisor: { children: [] } }] });
    expect(spec).toEqual({
      id: 'r',
      strategy: 'one_for_one',
      intensity: 1,
      period: 5,
      autoShutdown: 'never',
      children: [
        { id: 'w', step: 's@1', restart: 'permanent', significant: false, shutdown: 5000, config: {} },
        {
          id: 's',
          restart: 'permanent',
          significant: false,
          shutdown: 'infinity',
          supervisor: { id: 's', strategy: 'one_for_one', intensity: 1, period: 5, autoShutdown: 'never', children: [] },
        },
      ],
    });
  });

  it('accepts the three input kinds and relative or absolute outputs', () => {
    const spec = parseSupervisorSpec({
      id: 'r',
      children: [
        { id: 'tick', step: 't@1', input: { cron: '*/5 * * * * *' }, output: '/plant/ticks' },
        { id: 'sum', step: 's@1', input: { from: 'tick' }, output: 'sums/minute' },
        { id: 'raw', step: 'r@1', input: 'sensors/#' },
      ],
    });
    expect(spec.children.map((c) => ('input' in c ? c.input : undefined))).toEqual([{ cron: '*/5 * * * * *' }, { from: 'tick' }, 'sensors/#']);
  });

  it('a significant permanent child is invalid (OTP: a permanent child cannot be significant)', () => {
    expect(problems({ id: 'r', autoShutdown: 'any_significant', children: [{ id: 'a', step: 'a@1', significant: true }] })).toBe(
      'supervisor spec: children.0.significant: a permanent child cannot be significant',
    );
  });

  it('a significant child under autoShutdown never is invalid (OTP: significant children need auto_shutdown)', () => {
    expect(problems({ id: 'r', children: [{ id: 'a', step: 'a@1', restart: 'transient', significant: true }] })).toMatch(
      /children\.0\.significant: significant children need autoShutdown any_significant or all_significant/,
    );
  });

  it('simple_one_for_one needs exactly one child template', () => {
    expect(problems({ id: 'r', strategy: 'simple_one_for_one', children: [] })).toMatch(/children: simple_one_for_one needs exactly one child/);
    expect(problems({ id: 'r', strategy: 'simple_one_for_one', children: [{ id: 'a', step: 'a@1' }, { id: 'b', step: 'b@1' }] })).toMatch(
      /got 2/,
    );
  });

  it('child ids are unique within a supervisor (OTP: duplicate_child_name), with the JSON path of nested problems', () => {
    const msg = problems({
      id: 'r',
      children: [{ id: 'x', step: 'a@1' }, { id: 's', supervisor: { children: [{ id: 'y', step: 'b@1' }, { id: 'y', step: 'c@1' }] } }],
    });
    expect(msg).toBe('supervisor spec: children.1.supervisor.children.1.id: duplicate child id "y" (also children.0)');
  });

  it('names every schema problem with its path', () => {
    const msg = problems({
      id: 'r',
      intensity: -1,
      children: [{ id: 'a' }, { id: 'b', step: 'nover' }, { id: 'c', step: 'c@1', shutdown: 'never' }, { id: 'd', step: 'd@1', input: 'a/#/b' }],
    });
    expect(msg).toContain('intensity:');
    expect(msg).toContain('children.0: a child needs either "step" (a worker) or "supervisor" (a nested supervisor)');
    expect(msg).toContain('children.1.step: must be name@version');
    expect(msg).toContain('children.2.shutdown');
    expect(msg).toContain('children.3.input');
    expect(problems({ id: 'r', children: [{ id: 's', supervisor: { strategy: 'one_for_none', children: [{ id: 'w', step: 'w' }] } }] })).toMatch(
      /children\.0\.supervisor\.strategy: .*; children\.0\.supervisor\.children\.0\.step: must be name@version/,
    );
  });

  it('{from} must name a sibling worker', () => {
    expect(problems({ id: 'r', children: [{ id: 'a', step: 'a@1', input: { from: 'nobody' } }] })).toMatch(
      /children\.0\.input\.from: no sibling with id "nobody"/,
    );
    expect(problems({ id: 'r', children: [{ id: 'a', step: 'a@1', input: { from: 'a' } }] })).toMatch(/cannot read its own output/);
  });

  it('ids must be usable as topic levels', () => {
    expect(problems({ id: 'r', children: [{ id: 'a/b', step: 'a@1' }] })).toMatch(/children\.0\.id/);
  });
});

describe('supervisor events', () => {
  it('OTP: normal, shutdown and {shutdown, _} are clean exits; everything else is abnormal', () => {
    expect(['normal', 'shutdown', 'shutdown:reconfigured'].every(isCleanExit)).toBe(true);
    expect(['killed', 'timeout', 'output_limit', 'exit:1', 'trap:unreachable', 'start_failed:x', 'normalish'].some(isCleanExit)).toBe(false);
  });

  it('reasons follow the step ABI', () => {
    for (const ok of ['normal', 'killed', 'exit:-1', 'exit:2: config must be an object', 'timeout: slow disk', 'trap:out of bounds\nat f', 'start_failed:no module']) expect(ExitReason.safeParse(ok).success).toBe(true);
    for (const bad of ['crash', 'exit:x', '', 'exit:2 no colon-space', 'normal: fine'])  expect(ExitReason.safeParse(bad).success).toBe(false);
  });

  it('one schema per event type', () => {
    expect(SupervisorEvent.parse({ type: 'child_terminated', supervisor: 'root/s', child: 'x', reason: 'exit:2' })).toBeTruthy();
    expect(SupervisorEvent.safeParse({ type: 'child_started', supervisor: 'root' }).success).toBe(false);
    expect(SupervisorEvent.safeParse({ type: 'reached_max_restart_intensity', supervisor: 'root', extra: 1 }).success).toBe(false);
  });
});
