import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';

/** The shapes of aedes-persistence's memory implementation and of the journal records that replay it. */

/** The packet fields a persistence keeps (aedes-packet), with the payload as a Buffer. */
export interface StoredPacket {
  cmd: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup?: boolean;
  messageId?: number;
  brokerId?: string;
  brokerCounter?: number;
  clientId?: string;
}
export type Encoded = Omit<StoredPacket, 'payload'> & { payload: string };
export interface Sub { topic: string; qos: number; [field: string]: unknown }
export interface ClientRef { id: string }

export type Rec =
  | { op: 'retain'; p: Encoded }
  | { op: 'sub'; c: string; subs: Sub[] }
  | { op: 'unsub'; c: string; topics: string[] }
  | { op: 'cleanSubs'; c: string }
  | { op: 'enqueue'; c: string[]; p: Encoded }
  | { op: 'update'; c: string; p: Encoded }
  | { op: 'clear'; c: string; id: number | null }
  | { op: 'inStore'; c: string; p: Encoded }
  | { op: 'inDel'; c: string; id: number }
  | { op: 'cleanIn'; c: string }
  | { op: 'will'; c: string; p: Encoded }
  | { op: 'delWill'; c: string };

export interface Snapshot {
  retained: Encoded[];
  subs: [string, Sub[]][];
  outgoing: [string, Encoded[]][];
  incoming: [string, Encoded[]][];
  wills: [string, Encoded][];
}

export interface MemoryLike {
  setup(broker: unknown): Promise<void>;
  storeRetained(p: StoredPacket): Promise<void>;
  addSubscriptions(c: ClientRef, subs: Sub[]): Promise<void>;
  removeSubscriptions(c: ClientRef, topics: string[]): Promise<void>;
  subscriptionsByClient(c: ClientRef): Promise<Sub[]>;
  cleanSubscriptions(c: ClientRef): Promise<void>;
  outgoingEnqueue(sub: { clientId: string }, p: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], p: StoredPacket): Promise<void>;
  outgoingUpdate(c: ClientRef, p: StoredPacket): Promise<void>;
  outgoingClearMessageId(c: ClientRef, p: { messageId?: number }): Promise<StoredPacket | undefined>;
  outgoingStream(c: ClientRef): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
  incomingStorePacket(c: ClientRef, p: StoredPacket): Promise<void>;
  incomingGetPacket(c: ClientRef, p: { messageId?: number }): Promise<StoredPacket>;
  incomingDelPacket(c: ClientRef, p: { messageId?: number }): Promise<void>;
  cleanIncoming(c: ClientRef): Promise<void>;
  putWill(c: ClientRef, p: StoredPacket): Promise<void>;
  getWill(c: ClientRef): Promise<StoredPacket | undefined>;
  delWill(c: ClientRef): Promise<StoredPacket | undefined>;
  destroy(): Promise<void>;
}
export type MemoryClass = new (opts?: object) => MemoryLike;

export const encode = (p: StoredPacket): Encoded => ({ ...p, payload: Buffer.from(p.payload ?? []).toString('base64') });
export const decode = (p: Encoded): StoredPacket => ({ ...p, payload: Buffer.from(p.payload, 'base64') }) as StoredPacket;

// aedes-persistence ships its in-memory implementation as CommonJS without an ESM entry for it.
export const MemoryPersistence = createRequire(import.meta.url)('aedes-persistence/asyncPersistence.js') as MemoryClass;
