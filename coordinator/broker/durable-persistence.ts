import { Readable } from 'node:stream';
import type { Logger } from '../../shared/log.js';
import { Journal } from '../../shared/journal.js';
import { MemoryPersistence, decode, encode, type ClientRef, type Rec, type Snapshot, type StoredPacket, type Sub } from './persistence-records.js';
import { InflightIds } from './inflight-ids.js';
import { RetainedStore } from './retained-store.js';

export type { StoredPacket } from './persistence-records.js';

export interface DurablePersistenceOptions {
  dir: string;
  log: Logger;
  /** Journal bytes after which the state is snapshotted (default 4 MiB, and at least twice the last snapshot). */
  compactBytes?: number;
  /** QoS 1 messages queued per session at most (default 1000, Mosquitto's max_queued_messages); beyond, dropped. */
  maxQueued?: number;
  /** A message was not queued for `clientId` because its session queue was full. */
  onQueueFull?(clientId: string): void;
}

/** Default per-session queue bound. */
export const MAX_QUEUED = 1000;

/**
 * aedes' own in-memory persistence made durable: every change is applied in memory, appended to a journal and
 * resolved only once the journal is fsynced (group commit), so what aedes acknowledges after awaiting it (SUBACK,
 * a session's queued QoS 1 messages, retained messages, wills) survives SIGKILL and power loss. At open, the
 * snapshot and journal are replayed into memory; past `compactBytes` the state is snapshotted. The journal record
 * is taken in the same synchronous block as the in-memory change, so a snapshot never holds a change its journal
 * replays again.
 */
export class DurablePersistence extends MemoryPersistence {
  private journal!: Journal<Rec, Snapshot>;
  /** Retained messages are kept here, not in memory's store, which scans them all on every SUBSCRIBE. */
  private readonly retained = new RetainedStore();
  /** Who has what, to build snapshots through the public API (the memory state is private). */
  private readonly subClients = new Set<string>();
  /** Queued messages per session, to bound each queue. */
  private readonly queued = new Map<string, number>();
  private readonly incomingIds = new Map<string, Set<number>>();
  private readonly inflight = new InflightIds();
  private readonly willClients = new Set<string>();
  private replaying = false;
  private compactScheduled = false;
  /** Size of the last snapshot: compaction waits for a journal twice as big, so its cost stays linear. */
  private snapshotBytes = 0;

  constructor(private readonly opts: DurablePersistenceOptions) {
    super();
  }

  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    const { journal, snapshot, records } = await Journal.open<Rec, Snapshot>(this.opts.dir, 'broker', this.opts.log);
    this.journal = journal;
    this.replaying = true;
    try {
      if (snapshot) await this.restore(snapshot);
      for (const r of records) await this.replay(r).catch(() => undefined); // a change that failed live fails again
    } finally {
      this.replaying = false;
    }
    this.opts.log.info(`broker state restored: ${this.subClients.size} sessions, ${this.retained.size} retained, ${records.length} journal records`);
  }

  private async restore(s: Snapshot): Promise<void> {
    for (const p of s.retained) await this.storeRetained(decode(p));
    for (const [c, subs] of s.subs) await this.addSubscriptions({ id: c }, subs);
    for (const [c, packets] of s.outgoing) {
      for (const p of packets) {
        // A packet already sent once keeps its message id (enqueueing clears it, the update puts it back).
        await this.outgoingEnqueue({ clientId: c }, decode(p));
        if (p.messageId !== undefined) await this.outgoingUpdate({ id: c }, decode(p));
      }
    }
    for (const [c, packets] of s.incoming) for (const p of packets) await this.incomingStorePacket({ id: c }, decode(p));
    for (const [c, p] of s.wills) await this.replay({ op: 'will', c, p });
  }

  private replay(r: Rec): Promise<unknown> {
    const c = { id: 'c' in r && typeof r.c === 'string' ? r.c : '' };
    switch (r.op) {
      case 'retain': return this.storeRetained(decode(r.p));
      case 'sub': return this.addSubscriptions(c, r.subs);
      case 'unsub': return this.removeSubscriptions(c, r.topics);
      case 'cleanSubs': return this.cleanSubscriptions(c);
      case 'enqueue': return this.outgoingEnqueueCombi(r.c.map((clientId) => ({ clientId })), decode(r.p));
      case 'update': return this.outgoingUpdate(c, decode(r.p));
      case 'clear': return this.outgoingClearMessageId(c, { messageId: r.id ?? undefined });
      case 'inStore': return this.incomingStorePacket(c, decode(r.p));
      case 'inDel': return this.incomingDelPacket(c, { messageId: r.id });
      case 'cleanIn': return this.cleanIncoming(c);
      case 'will': {
        const p = decode(r.p);
        // putWill stamps the running broker's id; a will restored from before a restart keeps its old broker's,
        // so aedes publishes it once that broker is known dead.
        const brokerId = r.p.brokerId;
        return this.putWill(c, p).then(() => void (p.brokerId = brokerId));
      }
      case 'delWill': return this.delWill(c);
    }
  }

  /** Applies `change` (synchronously, in memory) and journals `rec` in the same block; resolves when durable. */
  private async logged<T>(change: Promise<T>, rec: Rec | undefined): Promise<T> {
    const durable = rec && !this.replaying ? this.journal.append(rec) : undefined;
    if (durable) this.maybeCompact();
    const result = await change;
    await durable;
    return result;
  }

  override storeRetained(p: StoredPacket): Promise<void> {
    this.retained.store(p);
    return this.logged(Promise.resolve(), { op: 'retain', p: encode(p) });
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(this.retained.match(patterns));
  }

  createRetainedStream(pattern: string): Readable {
    return this.createRetainedStreamCombi([pattern]);
  }

  override addSubscriptions(c: ClientRef, subs: Sub[]): Promise<void> {
    this.subClients.add(c.id);
    const plain = subs.map(({ topic, qos, rh, rap, nl }) => ({ topic, qos, rh, rap, nl }));
    return this.logged(super.addSubscriptions(c, subs), { op: 'sub', c: c.id, subs: plain });
  }

  override removeSubscriptions(c: ClientRef, topics: string[]): Promise<void> {
    return this.logged(super.removeSubscriptions(c, topics), { op: 'unsub', c: c.id, topics });
  }

  override cleanSubscriptions(c: ClientRef): Promise<void> {
    this.subClients.delete(c.id);
    return this.logged(super.cleanSubscriptions(c), { op: 'cleanSubs', c: c.id });
  }

  override outgoingEnqueue(sub: { clientId: string }, p: StoredPacket): Promise<void> {
    return this.outgoingEnqueueCombi([sub], p);
  }

  override outgoingEnqueueCombi(subs: { clientId: string }[], p: StoredPacket): Promise<void> {
    const max = this.opts.maxQueued ?? MAX_QUEUED;
    const room = subs.filter((s) => {
      const n = this.queued.get(s.clientId) ?? 0;
      if (n >= max && !this.replaying) {
        this.opts.onQueueFull?.(s.clientId);
        return false;
      }
      this.queued.set(s.clientId, n + 1);
      return true;
    });
    if (room.length === 0) return Promise.resolve();
    return this.logged(super.outgoingEnqueueCombi(room, p), { op: 'enqueue', c: room.map((s) => s.clientId), p: encode(p) });
  }

  override outgoingUpdate(c: ClientRef, p: StoredPacket): Promise<void> {
    // A PUBLISH update only assigns the message id of a queued packet (found by broker id and counter): its payload
    // is already journalled. Other packets (PUBREL) replace the queued one and are kept whole.
    const publish = p.cmd === 'publish';
    if (publish) {
      // aedes writes this very packet once the update resolves, so a new id set here is the one the client gets.
      // Replay keeps the journalled ids (chosen live against the same state).
      const id = this.replaying ? p.messageId : this.inflight.assign(c.id, p);
      this.inflight.hold(c.id, { ...p, messageId: id }, id !== p.messageId);
      p.messageId = id;
    }
    const rec = publish ? { ...p, payload: Buffer.alloc(0) } : p;
    const change = super.outgoingUpdate(c, p).catch((err: unknown) => {
      if (publish) this.inflight.release(c.id, p);
      throw err;
    });
    return this.logged(change, { op: 'update', c: c.id, p: encode(rec) });
  }

  override outgoingClearMessageId(c: ClientRef, p: { messageId?: number }): Promise<StoredPacket | undefined> {
    // Without an id (a clean session emptying its queue) memory removes the first unsent packet; replay does the same.
    // A client with nothing queued (a clean session's PUBACK: aedes clears every one) has nothing to journal.
    const rec: Rec | undefined = this.queued.has(c.id) ? { op: 'clear', c: c.id, id: p.messageId ?? null } : undefined;
    return this.logged(super.outgoingClearMessageId(c, p), rec).then((cleared) => {
      if (cleared) this.inflight.release(c.id, cleared);
      const n = this.queued.get(c.id);
      if (cleared && n !== undefined) {
        if (n <= 1) this.queued.delete(c.id);
        else this.queued.set(c.id, n - 1);
      }
      return cleared;
    });
  }

  override incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void> {
    if (p.messageId !== undefined) mapSet(this.incomingIds, c.id).add(p.messageId);
    return this.logged(super.incomingStorePacket(c, p), { op: 'inStore', c: c.id, p: encode(p) });
  }

  override incomingDelPacket(c: ClientRef, p: { messageId?: number }): Promise<void> {
    if (p.messageId !== undefined) this.incomingIds.get(c.id)?.delete(p.messageId);
    const rec: Rec | undefined = p.messageId === undefined ? undefined : { op: 'inDel', c: c.id, id: p.messageId };
    return this.logged(super.incomingDelPacket(c, p), rec);
  }

  override cleanIncoming(c: ClientRef): Promise<void> {
    this.incomingIds.delete(c.id);
    return this.logged(super.cleanIncoming(c), { op: 'cleanIn', c: c.id });
  }

  override putWill(c: ClientRef, p: StoredPacket): Promise<void> {
    this.willClients.add(c.id);
    const change = super.putWill(c, p); // stamps brokerId and clientId on p
    return this.logged(change, { op: 'will', c: c.id, p: encode(p) });
  }

  override delWill(c: ClientRef): Promise<StoredPacket | undefined> {
    this.willClients.delete(c.id);
    return this.logged(super.delWill(c), { op: 'delWill', c: c.id });
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    await this.journal?.close();
  }

  private maybeCompact(): void {
    const threshold = Math.max(this.opts.compactBytes ?? 4 << 20, 2 * this.snapshotBytes);
    if (this.compactScheduled || this.journal.compacting || this.journal.size < threshold) return;
    this.compactScheduled = true;
    setImmediate(() => {
      this.compactScheduled = false;
      this.compact().then((bytes) => (this.snapshotBytes = bytes)).catch((err) => this.opts.log.error(`broker snapshot failed: ${String(err)}`));
    });
  }

  /** Reads the whole state through the public API in one synchronous block and makes it the new snapshot. */
  private compact(): Promise<number> {
    // Each call below computes its answer synchronously (memory's async bodies do not await), so together they
    // are one cut.
    const subs = [...this.subClients].map((c) => [c, this.subscriptionsByClient({ id: c })] as const);
    const outgoing = [...this.queued.keys()].map((c) => [c, this.outgoingStream({ id: c })] as const);
    const incoming = [...this.incomingIds].map(([c, ids]) => [c, [...ids].map((id) => this.incomingGetPacket({ id: c }, { messageId: id }).catch(() => undefined))] as const);
    const wills = [...this.willClients].map((c) => [c, this.getWill({ id: c })] as const);
    const retained = [...this.retained.all()].map(encode);
    const state = async (): Promise<Snapshot> => {
      const s: Snapshot = { retained, subs: [], outgoing: [], incoming: [], wills: [] };
      for (const [c, p] of subs) {
        const list = await p;
        if (list.length) s.subs.push([c, list]);
      }
      for (const [c, stream] of outgoing) {
        const list = (await stream.toArray()) as StoredPacket[];
        if (list.length) s.outgoing.push([c, list.map(encode)]);
      }
      for (const [c, ps] of incoming) s.incoming.push([c, (await Promise.all(ps)).filter((p): p is StoredPacket => !!p).map(encode)]);
      for (const [c, w] of wills) {
        const will = await w;
        if (will) s.wills.push([c, encode(will)]);
      }
      return s;
    };
    return this.journal.snapshot(state());
  }
}

function mapSet<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  return set;
}
