import { createHash } from 'node:crypto';
import { isValidFilter, topicMatches } from '../../shared/topics.js';

/**
 * Bridge topic mappings as data, after Mosquitto's `topic <pattern> [out|in|both [qos [local-prefix remote-prefix]]]`:
 * outgoing, a local message matching `localPrefix + pattern` is published remotely as `remotePrefix + rest`;
 * incoming, the reverse. `retainKinds` lists last topic levels whose messages are state and are re-published
 * retained (MQTT 3.1.1 clears the retain flag on live deliveries [MQTT-3.3.1-9], so the bridge cannot copy it).
 */
export interface TopicMapping {
  pattern: string;
  direction: 'in' | 'out' | 'both';
  qos: 0 | 1;
  localPrefix: string;
  remotePrefix: string;
  retainKinds?: string[];
}

export interface Mapped {
  topic: string;
  qos: 0 | 1;
  retain: boolean;
}

export const localFilter = (m: TopicMapping): string => m.localPrefix + m.pattern;
export const remoteFilter = (m: TopicMapping): string => m.remotePrefix + m.pattern;

const sends = (m: TopicMapping) => m.direction !== 'in';
const receives = (m: TopicMapping) => m.direction !== 'out';

function retained(m: TopicMapping, topic: string): boolean {
  const last = topic.slice(topic.lastIndexOf('/') + 1);
  return m.retainKinds?.includes(last) ?? false;
}

/** Where a local message goes on the remote broker (first matching mapping), or undefined if no mapping sends it. */
export function mapOut(mappings: readonly TopicMapping[], localTopic: string): Mapped | undefined {
  const m = mappings.find((m) => sends(m) && topicMatches(localFilter(m), localTopic));
  if (!m) return undefined;
  const topic = m.remotePrefix + localTopic.slice(m.localPrefix.length);
  return { topic, qos: m.qos, retain: retained(m, topic) };
}

/** Where a remote message goes on the local broker, or undefined. */
export function mapIn(mappings: readonly TopicMapping[], remoteTopic: string): Mapped | undefined {
  const m = mappings.find((m) => receives(m) && topicMatches(remoteFilter(m), remoteTopic));
  if (!m) return undefined;
  const topic = m.localPrefix + remoteTopic.slice(m.remotePrefix.length);
  return { topic, qos: m.qos, retain: retained(m, topic) };
}

/** Could some topic match both filters? (Level by level: `#` matches the rest, `+` any one level.) */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; ; i++) {
    if (x[i] === '#' || y[i] === '#') return true;
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] !== '+' && y[i] !== '+' && x[i] !== y[i]) return false;
  }
}

/**
 * Reject mapping sets that can loop: an `out` mapping's remote space overlapping an `in` mapping's remote space
 * would bring our own messages back (MQTT 3.1.1 has no No Local), and likewise on the local side. `both` mappings
 * overlap themselves by definition; the bridge drops their echoes with an EchoGuard instead.
 */
export function checkMappings(mappings: readonly TopicMapping[]): string[] {
  const problems: string[] = [];
  mappings.forEach((m, i) => {
    if (!isValidFilter(localFilter(m)) || !isValidFilter(remoteFilter(m))) problems.push(`mapping ${i}: "${m.pattern}" with its prefixes is not a valid topic filter`);
  });
  for (const [i, out] of mappings.entries()) {
    if (out.direction !== 'out') continue;
    for (const [j, inn] of mappings.entries()) {
      if (inn.direction !== 'in') continue;
      if (filtersOverlap(remoteFilter(out), remoteFilter(inn))) problems.push(`mappings ${i} (out) and ${j} (in) overlap on the remote broker: "${remoteFilter(out)}" vs "${remoteFilter(inn)}" would loop`);
      else if (filtersOverlap(localFilter(out), localFilter(inn))) problems.push(`mappings ${i} (out) and ${j} (in) overlap on the local broker: "${localFilter(out)}" vs "${localFilter(inn)}" would loop`);
    }
  }
  return problems;
}

/**
 * Parse a Mosquitto-style mapping line: `pattern [out|in|both [qos [local-prefix remote-prefix]]]`
 * (`""` stands for an empty prefix, as in mosquitto.conf).
 */
export function parseMappingLine(line: string): TopicMapping {
  const words = line.trim().split(/\s+/).map((w) => (w === '""' ? '' : w));
  const [pattern, direction = 'out', qos = '0', localPrefix = '', remotePrefix = ''] = words;
  if (!pattern || words.length > 5) throw new Error(`bridge topic "${line}": expected "pattern [out|in|both [qos [local-prefix remote-prefix]]]"`);
  if (direction !== 'in' && direction !== 'out' && direction !== 'both') throw new Error(`bridge topic "${line}": direction must be in, out or both`);
  if (qos !== '0' && qos !== '1') throw new Error(`bridge topic "${line}": qos must be 0 or 1 (aedes and this bridge do not use QoS 2)`);
  return { pattern, direction, qos: Number(qos) as 0 | 1, localPrefix, remotePrefix };
}

/**
 * Remembers what a `both` mapping just forwarded so the copy the other broker sends back is dropped, not
 * forwarded again (what Mosquitto's bridge flag / MQTT 5 No Local do). Bounded: oldest entries fall out.
 */
export class EchoGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly limit = 10_000) {}

  private key(topic: string, payload: Uint8Array): string {
    return topic + '\u0000' + createHash('sha1').update(payload).digest('base64');
  }

  sent(topic: string, payload: Uint8Array): void {
    const k = this.key(topic, payload);
    this.seen.set(k, (this.seen.get(k) ?? 0) + 1);
    if (this.seen.size > this.limit) this.seen.delete(this.seen.keys().next().value!);
  }

  /** True (and forgets one copy) when this message is the echo of one we sent. */
  isEcho(topic: string, payload: Uint8Array): boolean {
    const k = this.key(topic, payload);
    const n = this.seen.get(k);
    if (!n) return false;
    if (n === 1) this.seen.delete(k);
    else this.seen.set(k, n - 1);
    return true;
  }
}
