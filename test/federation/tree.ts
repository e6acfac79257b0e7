import type { MqttClient } from 'mqtt';
import { ApiClient } from '../../cli/api-client.js';
import { ClusterEnrollResponse } from '../../shared/api.js';
import type { CoordinatorOptions } from '../../coordinator/coordinator.js';
import { connectDevice, startCoordinator, tempDir } from '../helpers/cluster.js';

export type Node = Awaited<ReturnType<typeof startCoordinator>>;

/** Enroll a child cluster on a parent coordinator over its API; returns the token. */
export async function enrollCluster(parentApi: string, name: string): Promise<string> {
  const res = await fetch(`${parentApi}/api/v1/clusters`, { method: 'POST', body: JSON.stringify({ name }) });
  if (!res.ok) throw new Error(`enroll cluster ${name}: HTTP ${res.status} ${await res.text()}`);
  return ClusterEnrollResponse.parse(await res.json()).token;
}

/** Start an in-process coordinator `name` as a child of `parent` (or a root), fast summaries for tests. */
export async function startNode(name: string, parent?: Node, extra: Partial<CoordinatorOptions> = {}): Promise<Node> {
  const link = parent ? { url: parent.mqttUrl, token: await enrollCluster(parent.api, name) } : undefined;
  return startCoordinator({ cluster: name, parent: link, summaryMs: 100, ...extra });
}

/** A raw MQTT device enrolled on `node`. */
export async function device(node: Node, id: string): Promise<MqttClient> {
  const { token } = await new ApiClient(node.api).enroll(id);
  return connectDevice(node.mqttUrl, id, token, { clean: false });
}

export { tempDir };
