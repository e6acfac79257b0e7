import { describe, expect, it } from 'vitest';
import { authorizePublish, authorizeSubscribe } from '../../coordinator/broker/acl.js';
import { Collector } from '../../coordinator/federation/collector.js';
import { federationMappings } from '../../coordinator/federation/federation.js';
import { checkMappings, filtersOverlap, mapIn, mapOut, type TopicMapping } from '../../coordinator/federation/mapping.js';
import { ParseOnce } from '../../coordinator/federation/parse-once.js';
import { combine, rollupDevices } from '../../shared/rollup.js';
import { SubtreeView, freshen } from '../../coordinator/fleet/subtree-view.js';
import { ClusterName, parseFleetTopic, UP } from '../../shared/fleet-topics.js';
import { summarize } from '../../coordinator/fleet/fleet-state.js';

describe('bridge topic mappings', () => {
  const m = federationMappings('site1');

  it('out: the local up space goes to the parent with the cluster name inserted, retained for state kinds', () => {
    expect(mapOut(m, 'flotilla/up/d/x/detail')).toEqual({ topic: 'flotilla/up/site1/d/x/detail', qos: 1, retain: true });
    expect(mapOut(m, 'flotilla/up/cell/summary')).toEqual({ topic: 'flotilla/up/site1/cell/summary', qos: 1, retain: true });
    expect(mapOut(m, 'flotilla/up/d/x/events')).toEqual({ topic: 'flotilla/up/site1/d/x/events', qos: 1, retain: false });
    expect(mapOut(m, 'flotilla/link/fetch')).toEqual({ topic: 'flotilla/link/site1/fetch', qos: 1, retain: false });
    // Device topics and the down space never go up.
    expect(mapOut(m, 'flotilla/d/x/health')).toBeUndefined();
    expect(mapOut(m, 'flotilla/down/req')).toBeUndefined();
  });

  it('in: what the parent addresses to us arrives without our name; nothing else comes in', () => {
    expect(mapIn(m, 'flotilla/down/site1/req')).toEqual({ topic: 'flotilla/down/req', qos: 1, retain: false });
    expect(mapIn(m, 'flotilla/down/site1/cell/req')).toEqual({ topic: 'flotilla/down/cell/req', qos: 1, retain: false });
    expect(mapIn(m, `flotilla/link/site1/module/${'a'.repeat(64)}`)?.topic).toBe(`flotilla/link/module/${'a'.repeat(64)}`);
    expect(mapIn(m, 'flotilla/down/site2/req')).toBeUndefined();
    expect(mapIn(m, 'flotilla/up/site1/summary')).toBeUndefined();
  });

  it('loop prevention: the federation mappings are accepted, overlapping out/in mappings are refused', () => {
    expect(checkMappings(m)).toEqual([]);
    const map = (pattern: string, direction: 'in' | 'out', localPrefix = '', remotePrefix = ''): TopicMapping => ({ pattern, direction, qos: 1, localPrefix, remotePrefix });
    expect(checkMappings([map('sensors/#', 'out'), map('sensors/+/x', 'in')])[0]).toMatch(/overlap on the remote broker/);
    expect(checkMappings([map('a/#', 'out', '', 'x/'), map('a/#', 'in', '', 'y/')])[0]).toMatch(/overlap on the local broker/);
  });

  it('filter overlap follows MQTT wildcard rules', () => {
    expect(filtersOverlap('a/#', 'a')).toBe(true);
    expect(filtersOverlap('a/+/c', 'a/b/+')).toBe(true);
    expect(filtersOverlap('a/+', 'a/b/c')).toBe(false);
    expect(filtersOverlap('flotilla/up/#', 'flotilla/down/#')).toBe(false);
  });
});

describe('fleet namespace', () => {
  it('splits a topic into cluster path and kind at the first reserved level', () => {
    expect(parseFleetTopic(UP, 'flotilla/up/eu/site1/d/x/detail')).toEqual({ path: ['eu', 'site1'], kind: ['d', 'x', 'detail'] });
    expect(parseFleetTopic(UP, 'flotilla/up/summary')).toEqual({ path: [], kind: ['summary'] });
    expect(parseFleetTopic(UP, 'flotilla/up/eu/nothing')).toBeUndefined();
  });

  it('cluster names may not be reserved levels', () => {
    expect(ClusterName.safeParse('site1').success).toBe(true);
    expect(ClusterName.safeParse('d').success).toBe(false);
    expect(ClusterName.safeParse('a/b').success).toBe(false);
  });
});

describe('child coordinator ACL', () => {
  const child = { kind: 'child', name: 'site1' } as const;
  it('publishes only under its own subtree', () => {
    expect(authorizePublish(child, 'flotilla/up/site1/summary').ok).toBe(true);
    expect(authorizePublish(child, 'flotilla/up/site1/cell/d/x/detail').ok).toBe(true);
    expect(authorizePublish(child, 'flotilla/link/site1/fetch').ok).toBe(true);
    expect(authorizePublish(child, 'flotilla/up/site2/summary').ok).toBe(false);
    expect(authorizePublish(child, 'flotilla/up/summary').ok).toBe(false);
    expect(authorizePublish(child, 'flotilla/down/site1/req').ok).toBe(false);
    expect(authorizePublish(child, 'flotilla/d/x/cmd').ok).toBe(false);
    expect(authorizePublish(child, 'sensors/t').ok).toBe(false);
  });
  it('reads only what is addressed to it', () => {
    expect(authorizeSubscribe(child, 'flotilla/down/site1/#').ok).toBe(true);
    expect(authorizeSubscribe(child, 'flotilla/link/site1/module/+').ok).toBe(true);
    expect(authorizeSubscribe(child, 'flotilla/down/#').ok).toBe(false);
    expect(authorizeSubscribe(child, 'flotilla/down/+/req').ok).toBe(false);
    expect(authorizeSubscribe(child, 'flotilla/link/site2/module/+').ok).toBe(false);
    expect(authorizeSubscribe(child, 'flotilla/up/#').ok).toBe(false);
  });
  it('a device may fetch modules only on its own topics', () => {
    const dev = { kind: 'device', id: 'x' } as const;
    expect(authorizePublish(dev, 'flotilla/d/x/fetch').ok).toBe(true);
    expect(authorizePublish(dev, 'flotilla/d/y/fetch').ok).toBe(false);
    expect(authorizeSubscribe(dev, 'flotilla/d/x/module/+').ok).toBe(true);
    expect(authorizeSubscribe(dev, 'flotilla/d/y/module/+').ok).toBe(false);
  });
});

describe('replies collected down the tree', () => {
  const ack = { id: 'c', ok: true, ts: 1 };
  it('waits for every cluster a reply says it forwarded to, and qualifies device ids by path', () => {
    const c = new Collector(['eu']);
    expect(c.add(['eu'], { id: 'r', acks: { z: ack }, errors: {}, forwardedTo: ['site1', 'site2'], unreachable: ['site3'] })).toBe(true);
    expect(c.done).toBe(false);
    c.add(['eu', 'site1'], { id: 'r', acks: { x: ack }, errors: { y: 'offline' }, forwardedTo: [], unreachable: [] });
    expect(c.add(['eu', 'site1'], { id: 'r', acks: {}, errors: {}, forwardedTo: [], unreachable: [] })).toBe(false);
    expect(c.done).toBe(false);
    const result = c.expire();
    expect(Object.keys(result.acks).sort()).toEqual(['eu/site1/x', 'eu/z']);
    expect(result.errors).toEqual({ 'eu/site1/y': 'offline' });
    expect(result.unreachable.sort()).toEqual(['eu/site2', 'eu/site3']);
  });
});

describe('aggregation', () => {
  it('counts by state and keeps the worst', () => {
    const online = { ...summarize('a', 'c', { id: 'a', online: true, lastSeen: 1, health: undefined, events: [], invalidMessages: 0 }, {}) };
    const offline = { ...summarize('b', 'c', { id: 'b', online: false, lastSeen: 1, health: undefined, events: [], invalidMessages: 2 }, {}) };
    const neverSeen = summarize('n', 'c', undefined, {});
    const r = rollupDevices([online, offline, neverSeen]);
    // A never-seen device is `unknown`, not `offline`: each device counts in exactly one of online/offline/unknown.
    expect(r.devices).toEqual({ total: 3, online: 1, offline: 1, degraded: 0, unknown: 1 });
    expect(r.worst).toBe('offline');
    expect(combine(r, rollupDevices([online])).devices).toMatchObject({ total: 4, online: 2 });
    expect(rollupDevices([]).worst).toBe('ok');
  });
});

describe('remote last-seen from the cluster alive message', () => {
  const sent = { ...summarize('x', 'root/eu', { id: 'x', online: true, lastSeen: 1_000, health: undefined, events: [], invalidMessages: 0 }, {}), uptimeS: 10 };

  it('an online device is brought forward to the time its cluster last heard all its online devices, uptime with it', () => {
    const view = new SubtreeView('root', () => 0);
    view.detail(['eu'], sent);
    view.alive(['eu'], { ts: 9_000, heardAt: 6_000 });
    expect(view.summaries()[0]).toMatchObject({ id: 'eu/x', cluster: 'root/eu', lastSeen: 6_000, uptimeS: 15 });
    // A later detail (a significant change) starts from its own last-seen, never older than the cluster vouched for.
    view.detail(['eu'], { ...sent, restartsTotal: 1 });
    expect(view.devices.get('eu/x')!.summary).toMatchObject({ lastSeen: 6_000, restartsTotal: 1 });
  });

  it('an offline device keeps the last-seen its cluster sent; an alive without online devices vouches for none', () => {
    const view = new SubtreeView('root', () => 0);
    view.detail(['eu'], { ...sent, online: false, state: 'offline' });
    view.alive(['eu'], { ts: 9_000, heardAt: 6_000 });
    expect(view.devices.get('eu/x')!.summary.lastSeen).toBe(1_000);
    expect(freshen(sent, undefined)).toBe(sent);
    view.detail(['eu'], sent);
    view.alive(['eu'], { ts: 9_500, heardAt: null });
    expect(view.devices.get('eu/x')!.summary.lastSeen).toBe(1_000);
  });
});

describe('parse once (an intermediate coordinator reads each message from below on two clients)', () => {
  it('parses a message once for both readers, its error included, and keeps nothing with one reader', () => {
    const once = new ParseOnce(2);
    let parses = 0;
    const parse = (payload: Buffer) => () => {
      parses++;
      const value = JSON.parse(payload.toString());
      if (value.bad) throw new Error('bad');
      return value;
    };
    const a = Buffer.from('{"n":1}');
    expect(once.parse('t', a, parse(a))).toEqual({ n: 1 });
    // The other reader's copy: equal bytes in another buffer.
    expect(once.parse('t', Buffer.from(a), parse(a))).toEqual({ n: 1 });
    expect(parses).toBe(1);
    // Taken by both readers: a third delivery (a new message with the same bytes) is parsed again.
    once.parse('t', a, parse(a));
    expect(parses).toBe(2);
    const bad = Buffer.from('{"bad":true}');
    expect(() => once.parse('t', bad, parse(bad))).toThrow('bad');
    expect(() => once.parse('t', Buffer.from(bad), parse(bad))).toThrow('bad');
    expect(parses).toBe(3);
    // Other bytes on the same topic are another message.
    const b = Buffer.from('{"n":2}');
    expect(once.parse('t', b, parse(b))).toEqual({ n: 2 });
    expect(parses).toBe(4);

    const single = new ParseOnce(1);
    single.parse('t', a, parse(a));
    single.parse('t', a, parse(a));
    expect(parses).toBe(6);
  });

  it('forgets the oldest waiting results beyond its bound', () => {
    const once = new ParseOnce(2);
    let parses = 0;
    const parse = () => ++parses;
    for (let i = 0; i <= 1024; i++) once.parse(`t${i}`, Buffer.from('x'), parse);
    once.parse('t0', Buffer.from('x'), parse); // dropped: parsed again
    once.parse('t1024', Buffer.from('x'), parse); // still waiting: not parsed
    expect(parses).toBe(1026);
  });
});
