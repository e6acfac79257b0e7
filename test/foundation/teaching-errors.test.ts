import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, type CommandSpec } from '../../shared/config.js';
import { teachingMessage } from '../../shared/errors.js';
import { Command, decode } from '../../shared/messages.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';
import { startCoordinator } from '../helpers/cluster.js';

const specError = (spec: unknown) => {
  try {
    parseSupervisorSpec(spec);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('spec was accepted');
};

describe('errors that teach: a wrong value names the allowed ones and what was given', () => {
  it('in a supervisor spec', () => {
    expect(specError({ id: 'root', children: [{ id: 'a', step: 'x@1', shutdown: 'brutal-kill' }] })).toBe(
      'supervisor spec: children.0.shutdown: expected a number of ms, "brutal_kill" or "infinity", got "brutal-kill"',
    );
    expect(specError({ id: 'root', strategy: 'one_for_most', children: [] })).toBe(
      'supervisor spec: strategy: expected "one_for_one", "one_for_all", "rest_for_one" or "simple_one_for_one", got "one_for_most"',
    );
    expect(specError({ id: 'root', children: [{ id: 'a', step: 'x@1', input: 5 }] })).toBe(
      'supervisor spec: children.0.input: expected an MQTT topic filter, {"from": "<sibling id>"} or {"cron": "<expression>"}, got 5',
    );
    expect(specError({ id: 'root', children: [{ id: 'a', step: 'x@1', shutdown: -4 }] })).toBe('supervisor spec: children.0.shutdown: expected at least 0, got -4');
    expect(specError({ id: 7, children: [] })).toBe('supervisor spec: id: expected a string, got 7');
  });

  it('in an MQTT message (discriminated union) and for a missing field', () => {
    expect(() => decode(Command, JSON.stringify({ id: 'c1', type: 'pong' }), 'command')).toThrow('command: type: expected "ping", "start_child" or "terminate_child"');
    expect(() => decode(z.object({ a: z.string() }), '{}', 'm')).toThrow('m: a: required: expected a string');
    expect(teachingMessage({ code: 'too_big', origin: 'string', maximum: 3, inclusive: true, input: 'abcd' })).toBe('expected at most 3 characters, got 4');
    expect(teachingMessage({ code: 'invalid_value', values: ['a'], input: { deep: 1 } })).toBe('expected "a", got an object');
  });

  it('in a flag, naming it once', () => {
    const spec: CommandSpec = { command: 't', summary: '', options: { mode: { schema: z.enum(['fast', 'safe']), description: '' } } };
    expect(() => loadConfig(spec, ['--mode', 'quick'], {})).toThrow(/^--mode: expected "fast" or "safe", got "quick"$/);
  });

  it('in an API body', async () => {
    const cluster = await startCoordinator();
    try {
      const res = await fetch(`${cluster.api}/api/v1/desired`, {
        method: 'POST',
        body: JSON.stringify({ target: { all: true }, spec: { id: 'root', children: [{ id: 'a', step: 'x@1', shutdown: 'brutal-kill' }] } }),
      });
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toContain('children.0.shutdown: expected a number of ms, "brutal_kill" or "infinity", got "brutal-kill"');
    } finally {
      await cluster.stop();
    }
  });
});
