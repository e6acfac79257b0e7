import { describe, expect, it } from 'vitest';
import { CONTRACT, DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, allDevices, isValidFilter, isValidTopicName, parseDeviceTopic, resolveOutputTopic, topicMatches } from '../../shared/topics.js';

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
    ['a/b/c', 'a/b', false],
    ['a/+', 'a', false],
    ['+/+', 'a/b', true],
    ['+', '$SYS', false],
    ['$SYS/#', '$SYS/x', true], // a filter naming $SYS explicitly matches it
    ['a/#', '$a/b', false],
    ['+/#', 'x', true],
    ['a/+/c', 'a/b/d', false],
    ['#', 'a/b', true],
    ['a/b/#', 'a/c', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });

  it('validates filters', () => {
    expect(isValidFilter('a/+/#')).toBe(true);
    expect(isValidFilter('a/#/b')).toBe(false);
    expect(isValidFilter('a/b+')).toBe(false);
    expect(isValidFilter('')).toBe(false);
    expect(isValidFilter('#')).toBe(true);
    expect(isValidFilter('+')).toBe(true);
    expect(isValidFilter('a/#')).toBe(true);
    expect(isValidFilter('#/a')).toBe(false);
    expect(isValidFilter('a/b#')).toBe(false);
    expect(isValidFilter('a/+b')).toBe(false);
    expect(isValidFilter('a/\u0000')).toBe(false);
  });

  it('validates topic names: no wildcards, not empty, no NUL', () => {
    expect(isValidTopicName('a/b')).toBe(true);
    expect(isValidTopicName('a')).toBe(true);
    for (const bad of ['', 'a/+', '+', 'a/#', '#', 'a\u0000b']) expect(isValidTopicName(bad)).toBe(false);
  });

  it('the contract: status and desired are retained, everything QoS 1 but health (latest state); devices publish and subscribe disjoint kinds', () => {
    expect(Object.entries(CONTRACT).filter(([, c]) => c.retain).map(([k]) => k)).toEqual(['status', 'desired']);
    expect(Object.entries(CONTRACT).filter(([, c]) => c.qos === 0).map(([k]) => k)).toEqual(['health']);
    expect([...DEVICE_PUBLISHES]).toEqual(['status', 'health', 'events', 'logs', 'ack', 'out']);
    expect([...DEVICE_SUBSCRIBES]).toEqual(['cmd', 'desired']);
    expect(allDevices('health')).toBe('flotilla/d/+/health');
  });

  it('parses device topics and rejects lookalikes', () => {
    expect(parseDeviceTopic('flotilla/d/x/health')).toEqual({ deviceId: 'x', kind: 'health', rest: [] });
    expect(parseDeviceTopic('flotilla/d/x/out/a/b')).toEqual({ deviceId: 'x', kind: 'out', rest: ['a', 'b'] });
    expect(parseDeviceTopic('flotilla/d/x/health/extra')).toBeUndefined();
    expect(parseDeviceTopic('flotilla/d/x/bogus')).toBeUndefined();
    expect(parseDeviceTopic('other/d/x/health')).toBeUndefined();
    expect(parseDeviceTopic('flotilla/x/x/health')).toBeUndefined();
    expect(parseDeviceTopic('flotilla/d/x')).toBeUndefined();
    expect(parseDeviceTopic('flotilla/d/x/out')).toEqual({ deviceId: 'x', kind: 'out', rest: [] });
  });

  it('resolves relative step outputs under the device and keeps absolute ones', () => {
    expect(resolveOutputTopic('dev1', 'alarms')).toBe('flotilla/d/dev1/out/alarms');
    expect(resolveOutputTopic('dev1', '/plant/alarms')).toBe('plant/alarms');
  });
});
