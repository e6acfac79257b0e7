import type { StoredPacket } from './persistence-records.js';

const MAX_ID = 65535;

/**
 * The packet ids held by each client's unacknowledged outgoing packets, and which broker process numbered each.
 * aedes numbers a client's deliveries from a random id in each process, and aedes-persistence's memory store, on an
 * update from the running broker, replaces a packet of another broker (one restored after a restart) that holds
 * the same id. `assign` moves such a new packet to the next id no other broker's packet holds, so a restored
 * in-flight message is never overwritten; nor one it moved (aedes' counter, unaware of the move, reaches that id
 * next). Other packets of one broker sharing an id are left alone: memory keeps them apart by broker counter, and
 * aedes' abstract suite requires it.
 */
export class InflightIds {
  /** client → packet id → holders (broker id + counter → holder), in update order. */
  private readonly byClient = new Map<string, Map<number, Map<string, Holder>>>();

  /** The id `p` should carry: its own unless a packet of another broker holds it. */
  assign(clientId: string, p: StoredPacket): number | undefined {
    const ids = this.byClient.get(clientId);
    if (p.messageId === undefined || !ids) return p.messageId;
    const own = key(p);
    let id = p.messageId;
    for (let tries = 0; tries < MAX_ID; tries++) {
      const holders = ids.get(id);
      const blocked = holders && [...holders].some(([k, h]) => k !== own && (h.brokerId !== p.brokerId || h.moved));
      if (!blocked) return id;
      id = id >= MAX_ID ? 1 : id + 1;
    }
    return p.messageId; // every id taken: cannot happen below 65,535 packets in flight
  }

  /** `p` (a PUBLISH with its id) is now in flight; `moved` if `assign` changed its id. */
  hold(clientId: string, p: StoredPacket, moved = false): void {
    if (p.messageId === undefined) return;
    let ids = this.byClient.get(clientId);
    if (!ids) this.byClient.set(clientId, (ids = new Map()));
    let holders = ids.get(p.messageId);
    if (!holders) ids.set(p.messageId, (holders = new Map()));
    const held = holders.get(key(p));
    holders.set(key(p), { brokerId: p.brokerId, moved: moved || !!held?.moved });
  }

  /** `p` was acknowledged (or its update failed). A PUBREL replaced the first packet that held its id. */
  release(clientId: string, p: StoredPacket): void {
    const ids = this.byClient.get(clientId);
    const holders = p.messageId === undefined ? undefined : ids?.get(p.messageId);
    if (!ids || !holders || p.messageId === undefined) return;
    holders.delete(p.cmd === 'publish' ? key(p) : (holders.keys().next().value ?? ''));
    if (holders.size === 0) ids.delete(p.messageId);
    if (ids.size === 0) this.byClient.delete(clientId);
  }
}

interface Holder { brokerId: string | undefined; moved: boolean }

function key(p: StoredPacket): string {
  return `${p.brokerId ?? ''}\n${p.brokerCounter ?? ''}`;
}
