import type { WorkerChild } from '../../shared/supervisor-spec.js';

/** Where each worker's messages come from (docs/supervision.md, "Data flow"). Pure. */
export interface Wiring {
  /** Each worker's current spec by path. */
  specs: Map<string, WorkerChild>;
  /** Producer path → the paths of the siblings that read its output (`input: {from}`), in start order. */
  consumers: Map<string, string[]>;
  /** Workers reading an MQTT topic filter. */
  topics: { path: string; filter: string }[];
  /** Workers ticked by a node-cron expression. */
  crons: { path: string; cron: string }[];
}

export function wire(workers: readonly { path: string; child: WorkerChild }[]): Wiring {
  const wiring: Wiring = { specs: new Map(workers.map((w) => [w.path, w.child])), consumers: new Map(), topics: [], crons: [] };
  for (const { path, child } of workers) {
    const input = child.input;
    if (input === undefined) continue;
    if (typeof input === 'string') wiring.topics.push({ path, filter: input });
    else if ('cron' in input) wiring.crons.push({ path, cron: input.cron });
    else {
      // A `from` names a sibling: the producer lives under the same supervisor.
      const producer = `${path.slice(0, path.lastIndexOf('/'))}/${input.from}`;
      const list = wiring.consumers.get(producer) ?? [];
      list.push(path);
      wiring.consumers.set(producer, list);
    }
  }
  return wiring;
}
