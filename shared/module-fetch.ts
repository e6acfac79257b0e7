import { z } from 'zod';
import { decode, encode } from './messages.js';
import { ROOT } from './topics.js';
import { sha256Hex } from './step-manifest.js';

/**
 * The module fetch protocol (docs/protocol.md, "Step modules over MQTT"), used by agents and child coordinators:
 * the fetcher subscribes to `<base>/module/<sha256>`, then publishes `{"sha256": …}` (QoS 1) on `<base>/fetch`;
 * the coordinator answers on the module topic with the raw module bytes, or an empty payload when it has none.
 * Bases: an agent uses `flotilla/d/<id>`, a child coordinator its link `flotilla/link` (bridged as
 * `flotilla/link/<name>` on its parent). The fetcher verifies the digest; the bytes are never trusted unchecked.
 */
export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');
export const FetchRequest = z.object({ sha256: Sha256 });
export type FetchRequest = z.infer<typeof FetchRequest>;

export const fetchTopic = (base: string): string => `${base}/fetch`;
export const moduleTopic = (base: string, sha256: string): string => `${base}/module/${sha256}`;
export const deviceBase = (deviceId: string): string => `${ROOT}/d/${deviceId}`;

export function isFetchTopic(topic: string, deviceId: string): boolean {
  return topic === fetchTopic(deviceBase(deviceId));
}

/** `<base>/module/+` or `<base>/module/<sha256>`: the only module filters a fetcher may subscribe to. */
export function isModuleFilter(filter: string, base: string): boolean {
  if (!filter.startsWith(`${base}/module/`)) return false;
  const last = filter.slice(base.length + '/module/'.length);
  return last === '+' || Sha256.safeParse(last).success;
}

export class ModuleFetchError extends Error {
  override name = 'ModuleFetchError';
}

/** The coordinator answered that it has no such module (and could not get it from its parent). */
export class ModuleUnavailableError extends ModuleFetchError {
  override name = 'ModuleUnavailableError';
}

/** The part of an mqtt.js client the fetcher uses (MqttClient satisfies it). */
export interface FetchClient {
  subscribeAsync(topic: string, opts: { qos: 0 | 1 }): Promise<unknown>;
  unsubscribeAsync(topic: string): Promise<unknown>;
  publishAsync(topic: string, payload: Buffer, opts: { qos: 0 | 1 }): Promise<unknown>;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  removeListener(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
}

/**
 * Fetch one module by digest; resolves with bytes whose sha256 matches, rejects on timeout, absence, mismatch or
 * `signal` (the caller gave up on this attempt, e.g. its link reconnected and the request may be lost).
 */
export async function fetchModule(client: FetchClient, requestTopic: string, replyTopic: string, sha256: string, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  FetchRequest.parse({ sha256 });
  let listener!: (topic: string, payload: Buffer) => void;
  let timer!: ReturnType<typeof setTimeout>;
  let onAbort: (() => void) | undefined;
  const reply = new Promise<Uint8Array>((resolve, reject) => {
    timer = setTimeout(() => reject(new ModuleFetchError(`module ${sha256} not received within ${timeoutMs} ms`)), timeoutMs);
    onAbort = () => reject(new ModuleFetchError(`fetch of module ${sha256} abandoned`));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    listener = (topic, payload) => {
      if (topic !== replyTopic) return;
      if (payload.length === 0) return reject(new ModuleUnavailableError(`module ${sha256} is not available upstream`));
      const actual = sha256Hex(payload);
      if (actual !== sha256) return reject(new ModuleFetchError(`module ${sha256}: received bytes hash to ${actual}`));
      resolve(new Uint8Array(payload));
    };
    client.on('message', listener);
  });
  // Handled below; this keeps a timeout during subscribe from counting as an unhandled rejection.
  reply.catch(() => undefined);
  try {
    // While the link is down mqtt.js queues the subscribe and publish: a timeout or abort must not wait for them.
    const sent = client.subscribeAsync(replyTopic, { qos: 1 }).then(() => client.publishAsync(requestTopic, encode({ sha256 } satisfies FetchRequest), { qos: 1 }));
    sent.catch(() => undefined);
    await Promise.race([sent, reply]);
    return await reply;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    client.removeListener('message', listener);
    await client.unsubscribeAsync(replyTopic).catch(() => undefined);
  }
}

/** Parse a fetch request payload (coordinator side). */
export const decodeFetchRequest = (payload: Uint8Array, what: string): FetchRequest => decode(FetchRequest, payload, what);
