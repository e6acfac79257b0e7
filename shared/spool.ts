import { Readable } from 'node:stream';
import type { IClientOptions, IStore, MqttClient, Packet } from 'mqtt';
import { Journal } from './journal.js';
import type { Logger } from './log.js';

/** What a spool holds now and what its bound refused, for health and metrics. */
export interface SpoolStats {
  queued: number;
  bytes: number;
  /** Messages not spooled because the spool was full (the newest are dropped, as Mosquitto's queue limit does). */
  dropped: number;
}

export interface SpoolOptions {
  dir: string;
  name: string;
  log: Logger;
  /** Payload bytes kept at most; `admit` refuses a message beyond it. */
  maxBytes: number;
  /** Messages kept at most (Mosquitto's max_queued_messages); 65,535 (one per MQTT packet id) if absent or above. */
  maxMessages?: number;
  /** Topics of which only the latest message is worth sending after an outage (health): older ones are discarded. */
  latestOnly?(topic: string): boolean;
  /** A message's record could not be written (full or read-only dir); the journal has logged it. */
  onWriteFailure?(err: Error): void;
}

/** MQTT packet ids run 1..65535. */
const MAX_IDS = 65535;

type Stored = Packet & { messageId?: number; topic?: string; payload?: Buffer | string };
type Encoded = Omit<Stored, 'payload'> & { payload?: string };
type Rec = { op: 'put'; p: Encoded } | { op: 'del'; id: number };

const size = (p: Stored) => (p.payload === undefined ? 0 : Buffer.byteLength(p.payload));
const encode = (p: Stored): Encoded => ({ ...p, payload: p.payload === undefined ? undefined : Buffer.from(p.payload).toString('base64') }) as Encoded;
const decode = (p: Encoded): Stored => ({ ...p, payload: p.payload === undefined ? undefined : Buffer.from(p.payload, 'base64') }) as Stored;

/**
 * A durable mqtt.js outgoing store: every QoS 1 message mqtt.js is responsible for (sent and not yet acknowledged,
 * or published while the link is down) is on disk before mqtt.js sends or queues it, survives a restart or power
 * loss, and is replayed in order on connect (mqtt.js streams the store). Bounded: the owner asks `admit` before
 * publishing and drops (and counts) what does not fit, so mqtt.js never holds a message the store refused.
 * Runs on Node 18.
 */
export class Spool implements IStore {
  readonly stats: SpoolStats = { queued: 0, bytes: 0, dropped: 0 };
  private readonly packets = new Map<number, Stored>();
  private snapshotBytes = 0;

  private constructor(
    private readonly opts: SpoolOptions,
    private readonly journal: Journal<Rec, Encoded[]>,
  ) {}

  static async open(opts: SpoolOptions): Promise<Spool> {
    const { journal, snapshot, records } = await Journal.open<Rec, Encoded[]>(opts.dir, opts.name, opts.log);
    const spool = new Spool(opts, journal);
    for (const p of snapshot ?? []) spool.keep(decode(p));
    for (const r of records) {
      if (r.op === 'put') spool.keep(decode(r.p));
      else spool.drop(r.id);
    }
    if (spool.stats.queued) opts.log.info(`spool ${opts.name}: ${spool.stats.queued} message(s) from before the restart`);
    return spool;
  }

  /**
   * The message ids for the client this spool is the store of (its `messageIdProvider`): never one the spool holds.
   * mqtt.js forgets every id at each CONNACK and takes back those of spooled messages one by one as it replays them
   * (one per PUBACK); a plain provider then hands a held id to a new publish (made before the replay reads, or while
   * the link is down again after a replay was cut short), whose `put` replaced the spooled message: acknowledged
   * locally, never sent (the contiguous loss of test/chaos/kill.test.ts).
   */
  messageIds(): NonNullable<IClientOptions['messageIdProvider']> {
    return new SpoolIds((id) => this.packets.has(id));
  }

  /** May a message of `bytes` be published now? A refusal is counted as dropped. */
  admit(bytes: number): boolean {
    // Each spooled message holds an MQTT packet id until acknowledged: never more than there are ids.
    const roomForOne = this.stats.queued < Math.min(this.opts.maxMessages ?? MAX_IDS, MAX_IDS);
    if (roomForOne && this.stats.bytes + bytes <= this.opts.maxBytes) return true;
    this.stats.dropped++;
    return false;
  }

  put(packet: Packet, cb: (err?: Error) => void): this {
    const p = packet as Stored;
    if (p.messageId === undefined) return cb(), this;
    this.keep(p);
    this.journal.append({ op: 'put', p: encode(p) }).then(
      () => cb(),
      (err: Error) => {
        // Never cb(err): mqtt.js swallows a failed put while connected and never calls `cbStorePut` after one while
        // offline, so the publisher (the bridge's local PUBACK, which holds up the local client's every later packet
        // and its end) would wait forever. The message stays in memory and is sent and replayed as usual; what is
        // dropped is only its survival of a restart before the peer acknowledges it.
        this.opts.onWriteFailure?.(err);
        cb();
      },
    );
    this.maybeCompact();
    return this;
  }

  del(packet: Pick<Packet, 'messageId'>, cb: (err?: Error, packet?: Packet) => void): this {
    const id = packet.messageId;
    const p = id === undefined ? undefined : this.packets.get(id);
    if (id === undefined || !p) return cb(new Error('missing packet')), this;
    this.drop(id);
    // The acknowledgement already happened; the del record only saves a resend after a crash.
    this.journal.append({ op: 'del', id }).catch(() => undefined);
    cb(undefined, p);
    return this;
  }

  get(packet: Pick<Packet, 'messageId'>, cb: (err?: Error, packet?: Packet) => void): this {
    const p = packet.messageId === undefined ? undefined : this.packets.get(packet.messageId);
    if (p) cb(undefined, p);
    else cb(new Error('missing packet'));
    return this;
  }

  /** Everything held, oldest first; of `latestOnly` topics only the newest message (older ones are deleted). */
  createStream(): ReturnType<IStore['createStream']> {
    const all = [...this.packets.values()];
    const latest = new Map<string, number>();
    all.forEach((p, i) => p.topic !== undefined && this.opts.latestOnly?.(p.topic) && latest.set(p.topic, i));
    const kept = all.filter((p, i) => {
      const stale = p.topic !== undefined && latest.has(p.topic) && latest.get(p.topic) !== i;
      if (stale && p.messageId !== undefined) this.del({ messageId: p.messageId }, () => undefined);
      return !stale;
    });
    // mqtt.js types its stream as readable-stream's; it only reads, listens for `end` and destroys.
    return Readable.from(kept) as unknown as ReturnType<IStore['createStream']>;
  }

  close(cb: (err?: Error) => void): void {
    this.journal.close().then(() => cb(), cb);
  }

  private keep(p: Stored): void {
    const id = p.messageId!;
    const old = this.packets.get(id);
    if (old) this.stats.bytes -= size(old);
    this.packets.set(id, p);
    this.stats.bytes += size(p);
    this.stats.queued = this.packets.size;
  }

  private drop(id: number): void {
    const p = this.packets.get(id);
    if (!p) return;
    this.packets.delete(id);
    this.stats.bytes -= size(p);
    this.stats.queued = this.packets.size;
  }

  private maybeCompact(): void {
    if (this.journal.compacting || this.journal.size < Math.max(1 << 20, 2 * this.snapshotBytes)) return;
    this.journal
      .snapshot([...this.packets.values()].map(encode))
      .then((bytes) => (this.snapshotBytes = bytes))
      .catch((err) => this.opts.log.error(`spool ${this.opts.name}: snapshot failed: ${String(err)}`));
  }
}

/** MQTT packet ids in use on one connection, skipping those `held` by the store (see Spool.messageIds). */
class SpoolIds {
  private readonly inUse = new Set<number>();
  private last: number | null = null;
  private next = 1;

  constructor(private readonly held: (id: number) => boolean) {}

  /** Round robin over 1..65535, so an id just acknowledged is not reused at once; null when all are taken. */
  allocate(): number | null {
    for (let tries = 0; tries < MAX_IDS; tries++) {
      const id = this.next;
      this.next = id === MAX_IDS ? 1 : id + 1;
      if (!this.inUse.has(id) && !this.held(id)) {
        this.inUse.add(id);
        return (this.last = id);
      }
    }
    return null;
  }

  getLastAllocated(): number | null {
    return this.last;
  }

  /** A spooled message being replayed takes its own id back (false if it is already in use). */
  register(id: number): boolean {
    if (this.inUse.has(id)) return false;
    this.inUse.add(id);
    return true;
  }

  deallocate(id: number): void {
    this.inUse.delete(id);
  }

  clear(): void {
    this.inUse.clear();
  }
}

/**
 * Publish so that a QoS 1 message ends up in the client's (durable) store, calling `stored` once it is. mqtt.js
 * holds back a publish made while it replays its store after a reconnect, and if the link closes before the replay
 * ends it drops that publish, reporting only through `cbStorePut(error)`: such a message is published again (now
 * offline, it goes to the store). Not retried once the client is being ended. QoS 0 is never stored: `stored` is
 * called at once.
 */
export function publishStored(client: MqttClient, topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain: boolean }, stored: () => void = () => undefined): void {
  const cbStorePut = (err?: Error) => {
    if (!err) return stored();
    if (client.disconnecting) return;
    // Deferred: mqtt.js calls this while it walks and then empties the queue the retry would join.
    setImmediate(() => publishStored(client, topic, payload, opts, stored));
  };
  client.publish(topic, payload, { ...opts, cbStorePut: cbStorePut as () => void });
  if (opts.qos === 0) stored();
}
