import { describe, expect, it } from 'vitest';
import { isValidFilter, parseDeviceTopic, resolveOutputTopic, topicMatches } from '../../shared/topics.js';

describe('topics', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/#', 'a', true], // [MQTT-4.7.1-2] '#' also matches the parent level
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b/c', false],
    ['+/b', '$SYS/b', false], // [MQTT-4.7.2-1]
    ['#', '$SYS/x', false],
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/c', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it('validates filters', () => {
    expect(isValidFilter('a/+/#')).toBe(true);
    expect(isValidFilter('a/#/b')).toBe(false);
    expect(isValidFilter('a/b+')).toBe(false);
    expect(isValidFilter('')).toBe(false);
  });

  it('parses device topics and rejects lookalikes', () => {
    expect(parseDeviceTopic('flotilla/d/x/health')).toEqual({ deviceId: 'x', kind: 'health', rest: [] });
    expect(parseDeviceTopic('flotilla/d/x/out/a/b')).toEqual({ deviceId: 'x', kind: 'out', rest: ['a', 'b'] });
    expect(parseDeviceTopic('flotilla/d/x/health/extra')).toBeUndefined();
    expect(parseDeviceTopic('flotilla/d/x/bogus')).toBeUndefined();
    expect(parseDeviceTopic('other/d/x/health')).toBeUndefined();
  });

  it('resolves relative step outputs under the device and keeps absolute ones', () => {
    expect(resolveOutputTopic('dev1', 'alarms')).toBe('flotilla/d/dev1/out/alarms');
    expect(resolveOutputTopic('dev1', '/plant/alarms')).toBe('plant/alarms');
  });
});
