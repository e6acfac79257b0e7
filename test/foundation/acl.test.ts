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

const child: Principal = { kind: 'child', name: 'paris' };
const sha = 'a'.repeat(64);

describe('ACL: a child coordinator is confined to its own subtree', () => {
  it.each([
    ['flotilla/up/paris/d/dev-1/status', true],
    ['flotilla/up/paris/summary', true],
    ['flotilla/link/paris/fetch', true],
    ['flotilla/up/paris', false], // the subtree's root itself is not inside it
    ['flotilla/up/berlin/d/dev-1/status', false],
    ['x/flotilla/up/paris/', false],
    ['flotilla/up/parisian/summary', false],
    ['flotilla/link/berlin/fetch', false],
    ['flotilla/link/paris/fetch/more', false],
    ['flotilla/down/paris/cmd', false],
    ['flotilla/d/dev-1/status', false],
    ['sensors/room1/raw', false], // unlike a device, a bridge has no user data space
    ['$SYS/x', false],
    ['flotilla/up/paris/+', false],
  ])('publish %s → %s', (topic, ok) => {
    expect(authorizePublish(child, topic).ok).toBe(ok);
  });

  it.each([
    ['flotilla/down/paris/#', true],
    ['flotilla/down/paris/cmd', true],
    [`flotilla/link/paris/module/${sha}`, true],
    ['flotilla/link/paris/module/+', true],
    ['flotilla/down/berlin/#', false],
    ['flotilla/down/paris', false],
    ['x/flotilla/down/paris/', false],
    ['flotilla/down/#', false],
    ['flotilla/link/paris/module/short', false],
    ['flotilla/link/berlin/module/+', false],
    ['flotilla/up/paris/#', false],
    ['#', false],
    ['flotilla/down/paris/#/x', false],
  ])('subscribe %s → %s', (filter, ok) => {
    expect(authorizeSubscribe(child, filter).ok).toBe(ok);
  });
});

describe('ACL: the edges of a device', () => {
  it.each([
    ['flotilla/d/dev-a/fetch', true], // its own module fetch
    ['flotilla/d/dev-b/fetch', false],
    ['flotilla/d/dev-a/out', true],
    ['flotilla', false],
    ['flotilla/d/dev-a/health/x', false],
    ['', false],
    ['a/+/b', false],
    ['a/#', false],
  ])('publish %s → %s', (topic, ok) => {
    expect(authorizePublish(a, topic).ok).toBe(ok);
  });

  it.each([
    [`flotilla/d/dev-a/module/${sha}`, true],
    ['flotilla/d/dev-a/module/+', true],
    ['flotilla/d/dev-b/module/+', false],
    ['$SYS/#', false],
    ['$share/g/flotilla/d/dev-a/cmd', false],
    ['flotilla/x/dev-a/cmd', false],
    ['flotilla/d/dev-a', false],
    ['flotilla/d/#/out', false],
    ['flotilla/d/+/out/#', true],
    ['flotilla/d/dev-a/out', true],
    ['flotilla/d/dev-a/cmd/x', false],
    ['flotilla/d/dev-a/status', false],
    ['flotilla/d/+/desired', false],
    ['', false],
  ])('subscribe %s → %s', (filter, ok) => {
    expect(authorizeSubscribe(a, filter).ok).toBe(ok);
  });

  // Every refusal names the topic or filter and who asked, so a log line is enough to see what was refused.
  it.each([
    [authorizePublish(a, 'a/+'), 'invalid topic name "a/+"'],
    [authorizePublish(a, '$SYS/x'), '"$SYS/x" is reserved for the broker'],
    [authorizePublish(a, 'flotilla/d/dev-a/cmd'), 'device dev-a may not publish to its cmd topic'],
    [authorizePublish(child, 'flotilla/d/x/status'), 'child paris may only publish in its own subtree, not to "flotilla/d/x/status"'],
    [authorizePublish(child, '$SYS/x'), '"$SYS/x" is reserved for the broker'],
    [authorizeSubscribe(a, 'a/#/b'), 'invalid topic filter "a/#/b"'],
    [authorizeSubscribe(child, 'a/#/b'), 'invalid topic filter "a/#/b"'],
    [authorizeSubscribe(child, 'flotilla/up/#'), 'child paris may only read what is addressed to it, not "flotilla/up/#"'],
    [authorizeSubscribe(a, '+/d/x'), `filter "+/d/x" could match Flotilla's control topics`],
    [authorizeSubscribe(a, '$SYS/#'), '"$SYS/#" is reserved for the broker'],
    [authorizeSubscribe(a, 'flotilla/x'), 'device dev-a may not subscribe to "flotilla/x"'],
    [authorizeSubscribe(a, 'flotilla/d/#/out'), 'invalid topic filter "flotilla/d/#/out"'],
    [authorizeSubscribe(a, 'flotilla/d/x'), 'device dev-a may not subscribe to "flotilla/d/x"'],
    [authorizeSubscribe(a, 'flotilla/d/dev-b/cmd'), 'device dev-a may not subscribe to "flotilla/d/dev-b/cmd"'],
  ])('refusal %#: %s', (verdict, reason) => {
    expect(verdict).toEqual({ ok: false, reason });
  });
});
