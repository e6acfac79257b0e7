import { parseDesired, type DesiredState } from '../../shared/desired.js';
import { errorMessage } from '../../shared/errors.js';
import { decode } from '../../shared/messages.js';
import { deviceBase, fetchModule, fetchTopic, moduleTopic } from '../../shared/module-fetch.js';
import { resolveOutputTopic, CONTRACT } from '../../shared/topics.js';
import type { Agent } from '../agent.js';
import { StepRuntime, StepStore } from '../runtime/index.js';
import { Workload } from './workload.js';
import { z } from 'zod';

/** How long the agent waits for its coordinator to send one module. */
const FETCH_TIMEOUT_MS = 30_000;

/**
 * Connect a Workload to an agent's link: desired states from the retained `desired` topic (and, at boot, from
 * local state), step inputs from the cluster broker, outputs and supervisor events back to it, simple_one_for_one
 * commands, and the tree in every health report.
 */
export async function attachWorkload(agent: Agent, options: { restartBufferSize?: number; spareIsolates?: number } = {}): Promise<Workload> {
  const { opts, client, state } = agent;
  const log = opts.log.child('workload');
  const base = deviceBase(opts.id);
  const workload = new Workload({
    runtime: new StepRuntime({ spares: options.spareIsolates }),
    store: new StepStore(opts.dataDir),
    fetchModule: (sha256) => fetchModule(client, fetchTopic(base), moduleTopic(base, sha256), sha256, FETCH_TIMEOUT_MS),
    publishOutput: (topic, payload) => client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: CONTRACT.out.qos }),
    resolveOutput: (output) => resolveOutputTopic(opts.id, output),
    subscribe: (filters) => client.subscribe(filters, { qos: 1 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (err || refused.length) log.error(`input subscription refused by the broker: ${refused.join(', ') || errorMessage(err)}`);
    }),
    unsubscribe: (filters) => client.unsubscribe(filters),
    onEvent: ({ event }) => {
      const { type, ...data } = event;
      agent.emitEvent(type, data);
    },
    onStateChange: () => agent.reportHealth(),
    persist: (desired, installedSteps) => state.update({ desired, installedSteps }),
    log,
    restartBufferSize: options.restartBufferSize,
  });
  agent.addHealthSource(() => workload.health());
  agent.onData((topic, payload) => workload.deliver(topic, payload));
  agent.onDesired(async (payload) => {
    // A malformed desired state is rejected input (thrown: logged and counted); one that fails to apply is an event.
    const desired = parseDesired(decode(z.unknown(), payload, 'desired spec'));
    await workload.apply(desired).catch((err) => {
      log.error(`desired revision ${desired.revision} not applied: ${errorMessage(err)}`);
      agent.emitEvent('desired_failed', { revision: desired.revision, reason: errorMessage(err) });
    });
  });
  agent.onCommand('start_child', async ({ id: _, type: __, ...command }) => workload.startChild(command));
  agent.onCommand('terminate_child', async ({ id: _, type: __, ...command }) => workload.terminateChild(command));

  // Boot: run the last desired state this agent had, from local state and its step store, with or without network.
  const stored = state.data.desired;
  if (stored) {
    let desired: DesiredState | undefined;
    try {
      desired = parseDesired(stored);
    } catch (err) {
      log.error(`stored desired state is invalid, waiting for the coordinator: ${errorMessage(err)}`);
    }
    if (desired) workload.apply(desired).catch((err) => log.error(`could not start the stored desired state: ${errorMessage(err)}`));
  }
  return workload;
}
