import { describe, expect, it } from 'vitest';
import { authorizePublish, authorizeSubscribe, type Principal } from '../../coordinator/broker/acl.js';

const a: Principal = { kind: 'device', id: 'dev-a' };

describe('ACL: a device is confined to its own subtree', () => {
  it.each([
    ['flotilla/d/dev-a/health', true],
    ['flotilla/d/dev-a/status', true],
    ['flotilla/d/dev-a/out/temp', true],
    ['sensors/room1/raw', true],
    ['flotilla/d/dev-b/health', false],
    ['flotilla/d/dev-a/cmd', false], // commands come from the coordinator, never from the device itself
    ['flotilla/d/dev-a/desired', false],
    ['flotilla/anything', false],
    ['$SYS/broker/x', false],
  ])('publish %s → %s', (topic, ok) => {
    expect(authorizePublish(a, topic).ok).toBe(ok);
  });

  it.each([
    ['flotilla/d/dev-a/cmd', true],
    ['flotilla/d/dev-a/desired', true],
    ['flotilla/d/+/out/#', true],
    ['flotilla/d/dev-b/out/temp', true],
    ['sensors/+/raw', true],
    ['flotilla/d/dev-b/cmd', false],
    ['flotilla/d/+/cmd', false],
    ['flotilla/d/dev-a/#', false], // would include its own status/health: allowed kinds only, explicitly
    ['flotilla/#', false],
    ['#', false],
    ['+/d/dev-b/cmd', false],
    ['flotilla/d/#', false],
    ['sensors/#/bad', false],
  ])('subscribe %s → %s', (filter, ok) => {
    expect(authorizeSubscribe(a, filter).ok).toBe(ok);
  });

  it('the internal principal may do anything', () => {
    expect(authorizePublish({ kind: 'internal' }, 'flotilla/d/x/cmd').ok).toBe(true);
    expect(authorizeSubscribe({ kind: 'internal' }, '#').ok).toBe(true);
  });

  it('a refusal says why', () => {
    const v = authorizePublish(a, 'flotilla/d/dev-b/health');
    expect(v).toEqual({ ok: false, reason: 'device dev-a may not publish to "flotilla/d/dev-b/health"' });
  });
});
