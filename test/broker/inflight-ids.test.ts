import { describe, expect, it } from 'vitest';
import { InflightIds } from '../../coordinator/broker/inflight-ids.js';

const packet = (brokerId: string, brokerCounter: number, messageId: number) => ({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 1 as const, retain: false, brokerId, brokerCounter, messageId });

/** assign then hold, as the durable persistence's outgoingUpdate does. */
function update(ids: InflightIds, p: ReturnType<typeof packet>): number | undefined {
  const id = ids.assign('c', p);
  ids.hold('c', { ...p, messageId: id }, id !== p.messageId);
  return id;
}

describe('in-flight packet ids', () => {
  it("moves a new packet off an earlier broker's id, and the next one off the moved one's", () => {
    const ids = new InflightIds();
    update(ids, packet('old', 1, 5));
    expect(update(ids, packet('new', 1, 5))).toBe(6);
    expect(update(ids, packet('new', 2, 6))).toBe(7); // aedes' counter reaches 6 next
    expect(update(ids, packet('old', 1, 5))).toBe(5); // its own resend keeps its id
    expect(update(ids, packet('new', 1, 6))).toBe(6);
  });

  it("keeps one broker's packets sharing an id (memory tells them apart by counter), frees ids on release, wraps at 65,535", () => {
    const ids = new InflightIds();
    expect([update(ids, packet('b', 1, 9)), update(ids, packet('b', 2, 9))]).toEqual([9, 9]);
    update(ids, packet('old', 1, 65535));
    expect(update(ids, packet('b', 3, 65535))).toBe(1);
    ids.release('c', packet('old', 1, 65535));
    expect(update(ids, packet('b', 4, 65535))).toBe(65535);
    ids.release('c', { cmd: 'pubrel', messageId: 9 } as never); // replaced the first holder of 9
    expect(update(ids, packet('x', 1, 9))).toBe(10); // b's counter-2 packet still holds 9
  });
});
