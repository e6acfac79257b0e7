import { isValidFilter, topicMatches } from '../../shared/topics.js';

/**
 * Bridge topic mappings as data, after Mosquitto's `topic <pattern> [out|in [qos [local-prefix remote-prefix]]]`:
 * outgoing, a local message matching `localPrefix + pattern` is published remotely as `remotePrefix + rest`;
 * incoming, the reverse. `retainKinds` lists last topic levels whose messages are state and are re-published
 * retained (MQTT 3.1.1 clears the retain flag on live deliveries [MQTT-3.3.1-9], so the bridge cannot copy it).
 */
export interface TopicMapping {
  pattern: string;
  direction: 'in' | 'out';
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


function retained(m: TopicMapping, topic: string): boolean {
  const last = topic.slice(topic.lastIndexOf('/') + 1);
  return m.retainKinds?.includes(last) ?? false;
}

/** Where a local message goes on the remote broker (first matching mapping), or undefined if no mapping sends it. */
export function mapOut(mappings: readonly TopicMapping[], localTopic: string): Mapped | undefined {
  const m = mappings.find((m) => m.direction === 'out' && topicMatches(localFilter(m), localTopic));
  if (!m) return undefined;
  const topic = m.remotePrefix + localTopic.slice(m.localPrefix.length);
  return { topic, qos: m.qos, retain: retained(m, topic) };
}

/** Where a remote message goes on the local broker, or undefined. */
export function mapIn(mappings: readonly TopicMapping[], remoteTopic: string): Mapped | undefined {
  const m = mappings.find((m) => m.direction === 'in' && topicMatches(remoteFilter(m), remoteTopic));
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
 * would bring our own messages back (MQTT 3.1.1 has no No Local), and likewise on the local side. (Mosquitto's
 * `both` direction overlaps itself by definition; the federation needs none, so it does not exist here.)
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
