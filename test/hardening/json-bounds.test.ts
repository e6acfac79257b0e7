import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors.js';
import { DEFAULT_JSON_BOUNDS, checkJsonBounds, parseBoundedJson } from '../../shared/json-bounds.js';
import { EventMessage, HealthMessage, decode } from '../../shared/messages.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const small = { maxDepth: 3, maxString: 5, maxArray: 3, maxKeys: 2, maxBytes: 100 };

describe('JSON bounds (issue 11: every edge bounds depth, lengths and size, and says which bound was hit)', () => {
  it('names the bound and the path of the first value over it', () => {
    expect(() => checkJsonBounds({ a: [1, { b: [[]] }] }, 'x', small)).toThrow('x: a.1.b: nested deeper than 3 levels');
    expect(() => checkJsonBounds({ a: 'toolong' }, 'x', small)).toThrow('x: a: string of 7 characters is longer than the limit of 5');
    expect(() => checkJsonBounds([1, 2, 3, 4], 'x', small)).toThrow('x: (root): array of 4 elements is longer than the limit of 3');
    expect(() => checkJsonBounds({ a: 1, b: 2, c: 3 }, 'x', small)).toThrow('x: (root): object with 3 keys has more than the limit of 2');
    expect(() => checkJsonBounds({ abcdefg: 1 }, 'x', small)).toThrow('key of 7 characters');
    expect(() => parseBoundedJson('"' + 'a'.repeat(200) + '"', 'x', small)).toThrow('x: 202 bytes is more than the limit of 100');
    expect(() => parseBoundedJson('{', 'x')).toThrow('x: payload is not valid JSON');
  });

  it('a value nested 100,000 deep is refused without overflowing the stack', () => {
    expect(() => parseBoundedJson(nested(100_000), 'spec', { ...DEFAULT_JSON_BOUNDS, maxBytes: 1 << 20 })).toThrow(ValidationError);
  });

  it('accepts exactly up to each bound', () => {
    expect(() => checkJsonBounds([[[]]], 'x', small)).not.toThrow();
    expect(() => checkJsonBounds([[[[]]]], 'x', small)).toThrow('nested deeper');
    expect(() => checkJsonBounds({ a: 'abcde', b: [1, 2, 3] }, 'x', small)).not.toThrow();
  });

  it('whatever it accepts, JSON.stringify and structuredClone survive (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 40 }), (value) => {
        try {
          checkJsonBounds(value, 'v');
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
          return;
        }
        expect(() => structuredClone(JSON.parse(JSON.stringify(value)))).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('decode refuses a deeply nested event and a health report with a 10 MB version string', () => {
    // ~25 KB, 5,000 levels: JSON.stringify of it throws RangeError (what killed the dashboard stream).
    const deep = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
    const event = `{"ts":1,"seq":1,"type":"x","data":${deep}}`;
    expect(() => decode(EventMessage, event, 'event')).toThrow(/event: data(\.a)+: nested deeper than 32 levels/);
    const health = { ts: 1, seq: 1, intervalS: 1, agentVersion: 'v'.repeat(10_000_000), target: 't', arch: 'x', platform: 'p', nodeVersion: 'n', uptimeS: 1, memory: { rss: 1, heapUsed: 1, heapTotal: 1 }, load: [0, 0, 0], diskFreeBytes: null, invalidMessages: 0 };
    expect(() => decode(HealthMessage, JSON.stringify(health), 'health')).toThrow('health: 10000');
    expect(() => decode(HealthMessage, JSON.stringify({ ...health, agentVersion: 'v'.repeat(1000) }), 'health')).toThrow('agentVersion');
  });
});
