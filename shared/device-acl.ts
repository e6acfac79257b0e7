import { isFetchTopic } from './module-fetch.js';
import { DEVICE_PUBLISHES, ROOT, isValidTopicName, parseDeviceTopic } from './topics.js';

const PUBLISH_KINDS = new Set<string>(DEVICE_PUBLISHES);

/** Why `topic` is not a topic name anyone may publish to, if it is not. */
export function topicNameProblem(topic: string): string | undefined {
  if (!isValidTopicName(topic)) return `invalid topic name "${topic}"`;
  if (topic.startsWith('$')) return `"${topic}" is reserved for the broker`;
  return undefined;
}

/**
 * Why device `id` may not publish to `topic`, if it may not (docs/protocol.md, "Access control"): its own
 * `status`, `health`, `events`, `ack`, `out/...` and module fetches, and user topics outside `flotilla/`. The
 * coordinator's broker enforces it; the agent checks its step outputs with it before it runs a spec.
 */
export function devicePublishProblem(id: string, topic: string): string | undefined {
  const bad = topicNameProblem(topic);
  if (bad) return bad;
  if (isFetchTopic(topic, id)) return undefined;
  if (topic.split('/', 1)[0] !== ROOT) return undefined; // user data space: sensor readings, absolute step outputs
  const parsed = parseDeviceTopic(topic);
  if (!parsed || parsed.deviceId !== id) return `device ${id} may not publish to "${topic}"`;
  if (!PUBLISH_KINDS.has(parsed.kind)) return `device ${id} may not publish to its ${parsed.kind} topic`;
  return undefined;
}
