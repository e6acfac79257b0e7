/**
 * Every MQTT topic Flotilla uses on a cluster broker, defined once. Device topics live under
 * `flotilla/d/<deviceId>/<kind>`; user data (step inputs and absolute step outputs) lives outside `flotilla/`.
 * QoS and retain flags per topic are part of the contract (docs/protocol.md).
 */
export const ROOT = 'flotilla';

export type DeviceTopicKind = 'status' | 'health' | 'events' | 'logs' | 'ack' | 'cmd' | 'desired' | 'out';

/** Topics a device publishes (its own subtree only; enforced by the broker's ACL). */
export const DEVICE_PUBLISHES: readonly DeviceTopicKind[] = ['status', 'health', 'events', 'logs', 'ack', 'out'];
/** Topics a device subscribes to in its own subtree. */
export const DEVICE_SUBSCRIBES: readonly DeviceTopicKind[] = ['cmd', 'desired'];

export interface TopicContract {
  qos: 0 | 1;
  retain: boolean;
}

export const CONTRACT: Record<DeviceTopicKind, TopicContract> = {
  status: { qos: 1, retain: true },
  // Latest state, not an event: a report lost with its connection is replaced by the next one (docs/protocol.md).
  health: { qos: 0, retain: false },
  events: { qos: 1, retain: false },
  logs: { qos: 1, retain: false },
  ack: { qos: 1, retain: false },
  cmd: { qos: 1, retain: false },
  desired: { qos: 1, retain: true },
  out: { qos: 1, retain: false },
};

export function deviceTopic(deviceId: string, kind: DeviceTopicKind): string {
  return `${ROOT}/d/${deviceId}/${kind}`;
}

/** Wildcard subscription the coordinator uses to hear one kind of message from all its devices. */
export function allDevices(kind: DeviceTopicKind): string {
  return `${ROOT}/d/+/${kind}`;
}

export interface ParsedDeviceTopic {
  deviceId: string;
  kind: DeviceTopicKind;
  /** Levels after `out/` for step outputs. */
  rest: string[];
}

const KINDS = new Set<string>(Object.keys(CONTRACT));

export function parseDeviceTopic(topic: string): ParsedDeviceTopic | undefined {
  const levels = topic.split('/');
  if (levels.length < 4 || levels[0] !== ROOT || levels[1] !== 'd') return undefined;
  const kind = levels[3];
  if (!KINDS.has(kind)) return undefined;
  if (kind !== 'out' && levels.length !== 4) return undefined;
  return { deviceId: levels[2], kind: kind as DeviceTopicKind, rest: levels.slice(4) };
}

/** A step's output topic: relative topics land under the device's `out/` subtree, `/`-prefixed ones are absolute. */
export function resolveOutputTopic(deviceId: string, output: string): string {
  return output.startsWith('/') ? output.slice(1) : `${deviceTopic(deviceId, 'out')}/${output}`;
}

/** MQTT topic filter matching ([MQTT-4.7.1]: `+` one level, `#` the rest, including the parent level). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  // [MQTT-4.7.2-1] wildcards at the first level never match topics starting with `$`.
  if ((f[0] === '#' || f[0] === '+') && topic.startsWith('$')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A valid MQTT topic filter: `#` only last and alone in its level, `+` alone in its level ([MQTT-4.7.1-2], [MQTT-4.7.1-3]). */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

/** A valid topic name to publish to: no wildcards ([MQTT-3.3.2-2]). */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !/[+#\u0000]/.test(topic);
}
