import { describe, expect, it } from 'vitest';
import { routeTopic, topicLabel } from '../../coordinator/mqtt/topic-route.js';

describe('topic routes of the coordinator dispatch (pure)', () => {
  it('parses each topic once into its kind, with a bounded metric label', () => {
    expect(routeTopic('flotilla/d/x/health')).toEqual({ kind: 'device', id: 'x', level: 'health', label: 'd/health' });
    expect(routeTopic('flotilla/d/x/fetch')).toEqual({ kind: 'device_fetch', id: 'x', label: 'd/fetch' });
    expect(routeTopic('flotilla/up/eu/site1/d/x/detail')).toEqual({ kind: 'up', path: ['eu', 'site1'], levels: ['d', 'x', 'detail'], label: 'up/detail' });
    expect(routeTopic('flotilla/up/summary')).toMatchObject({ kind: 'up', path: [], label: 'up/summary' });
    expect(routeTopic('flotilla/down/req')).toEqual({ kind: 'request', label: 'down/req' });
    expect(routeTopic('flotilla/link/eu/fetch')).toEqual({ kind: 'child_fetch', child: 'eu', label: 'link/fetch' });
    expect(routeTopic(`flotilla/link/module/${'a'.repeat(64)}`)).toEqual({ kind: 'module_reply', label: 'link/module' });
  });

  it('routes nothing it does not handle', () => {
    for (const topic of ['sensors/x', 'flotilla/d/x', 'flotilla/d/x/unknown', 'flotilla/d/x/health/extra', 'flotilla/down/eu/req', 'flotilla/up/eu/nothing', 'flotilla/link/eu/other']) {
      expect(routeTopic(topic)).toBeUndefined();
    }
  });

  it('labels what the coordinator sends, ids never in a label', () => {
    expect(topicLabel('flotilla/d/x/cmd')).toBe('d/cmd');
    expect(topicLabel(`flotilla/d/x/module/${'a'.repeat(64)}`)).toBe('d/module');
    expect(topicLabel('flotilla/down/eu/site1/req')).toBe('down/req');
    expect(topicLabel(`flotilla/link/eu/module/${'b'.repeat(64)}`)).toBe('link/module');
    expect(topicLabel('flotilla/up/d/x/events')).toBe('up/events');
    expect(topicLabel('sensors/x')).toBe('other');
  });
});
