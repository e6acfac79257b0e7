import { describe, expect, it } from 'vitest';
import { checkMappings, filtersOverlap, localFilter, mapIn, mapOut, remoteFilter, type TopicMapping } from '../../coordinator/federation/mapping.js';

// The bridge's mapping rules on their own (Mosquitto's `topic pattern direction qos local-prefix remote-prefix`).

const m = (pattern: string, direction: TopicMapping['direction'], localPrefix = '', remotePrefix = '', extra: Partial<TopicMapping> = {}): TopicMapping => ({ pattern, direction, qos: 1, localPrefix, remotePrefix, ...extra });

describe('mapOut / mapIn', () => {
  const up = m('#', 'out', 'flotilla/up/', 'flotilla/up/paris/', { retainKinds: ['summary', 'detail'] });
  const down = m('#', 'in', 'flotilla/down/', 'flotilla/down/paris/', { qos: 0 });

  it('rewrites the prefix, keeps the rest and the mapping qos, retains only the listed last levels', () => {
    expect(mapOut([up, down], 'flotilla/up/d/x/detail')).toEqual({ topic: 'flotilla/up/paris/d/x/detail', qos: 1, retain: true });
    expect(mapOut([up, down], 'flotilla/up/d/x/events')).toEqual({ topic: 'flotilla/up/paris/d/x/events', qos: 1, retain: false });
    expect(mapOut([up, down], 'flotilla/up/summary')).toEqual({ topic: 'flotilla/up/paris/summary', qos: 1, retain: true });
    expect(mapIn([up, down], 'flotilla/down/paris/cmd')).toEqual({ topic: 'flotilla/down/cmd', qos: 0, retain: false });
  });

  it('a mapping only works in its direction; nothing matching means undefined', () => {
    expect(mapOut([up, down], 'flotilla/down/cmd')).toBeUndefined();
    expect(mapIn([up, down], 'flotilla/up/paris/summary')).toBeUndefined();
    expect(mapOut([up, down], 'other/topic')).toBeUndefined();
    expect(mapIn([up, down], 'flotilla/down/berlin/cmd')).toBeUndefined();
  });

  it('the first matching mapping wins; without retainKinds nothing is retained', () => {
    const first = m('a/#', 'out', '', 'one/');
    const second = m('#', 'out', '', 'two/');
    expect(mapOut([first, second], 'a/b')).toEqual({ topic: 'one/a/b', qos: 1, retain: false });
    expect(mapOut([first, second], 'b')).toEqual({ topic: 'two/b', qos: 1, retain: false });
    expect(mapOut([m('#', 'out', '', '', { retainKinds: ['x'] })], 'a/x/y')?.retain).toBe(false);
    expect(mapOut([m('#', 'out', '', '', { retainKinds: ['x'] })], 'x')?.retain).toBe(true);
  });

  it('local and remote filters are prefix + pattern', () => {
    expect(localFilter(up)).toBe('flotilla/up/#');
    expect(remoteFilter(up)).toBe('flotilla/up/paris/#');
  });
});

describe('filtersOverlap', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['+/b', 'a/+', true],
    ['a/#', 'a', true],
    ['a', 'a/#', true],
    ['#', 'x/y/z', true],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a/+/c', 'a/b/d', false],
    ['+', 'a/b', false],
    ['a/b/#', 'a/c/#', false],
  ])('%s ~ %s: %s', (a, b, expected) => {
    expect(filtersOverlap(a, b)).toBe(expected);
    expect(filtersOverlap(b, a)).toBe(expected);
  });
});

describe('checkMappings', () => {
  it('accepts disjoint out and in spaces, on both brokers', () => {
    expect(checkMappings([m('#', 'out', 'up/', 'up/p/'), m('#', 'in', 'down/', 'down/p/')])).toEqual([]);
  });

  it('names an out/in pair overlapping on the remote broker, and one overlapping on the local broker', () => {
    expect(checkMappings([m('#', 'out', 'a/', 'r/'), m('#', 'in', 'b/', 'r/x/')])).toEqual([
      'mappings 0 (out) and 1 (in) overlap on the remote broker: "r/#" vs "r/x/#" would loop',
    ]);
    expect(checkMappings([m('#', 'in', 'l/', 'r1/'), m('#', 'out', 'l/', 'r2/')])).toEqual([
      'mappings 1 (out) and 0 (in) overlap on the local broker: "l/#" vs "l/#" would loop',
    ]);
  });

  it('two mappings of one direction are not loops', () => {
    expect(checkMappings([m('#', 'in', 'l/', 'r/'), m('#', 'in', 'l/', 'r/')])).toEqual([]);
  });

  it('refuses a pattern that is no valid filter once prefixed', () => {
    expect(checkMappings([m('a/#/b', 'out')])).toEqual(['mapping 0: "a/#/b" with its prefixes is not a valid topic filter']);
    expect(checkMappings([m('#', 'out', 'x#/')])).toEqual(['mapping 0: "#" with its prefixes is not a valid topic filter']);
    expect(checkMappings([m('#', 'out', '', 'y+/')])).toEqual(['mapping 0: "#" with its prefixes is not a valid topic filter']);
  });
});
