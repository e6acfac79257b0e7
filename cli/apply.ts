import { readFileSync } from 'node:fs';
import { parseBoundedJson } from '../shared/json-bounds.js';
import type { FanoutResult, FanoutTarget } from '../shared/api.js';
import { opt, type Options, type Values } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

const options = {
  device: { schema: opt.string, description: 'one device (cluster-qualified below the coordinator: eu/site1/x)' },
  cluster: { schema: opt.string, description: 'the own devices of a cluster, by full path (root/eu)' },
  subtree: { schema: opt.string, description: 'a cluster and everything below it, by full path' },
  all: { schema: opt.bool, flag: true, description: 'every device below the coordinator' },
  'timeout-ms': { schema: opt.positiveInt, default: 10_000, description: 'how long to wait for the clusters to answer' },
  ...apiOptions,
} satisfies Options;

/** Exactly one of the target options, as the API's fan-out target. */
function target(v: Values<typeof options>): FanoutTarget {
  const given: FanoutTarget[] = [];
  if (v.device) given.push({ device: v.device });
  if (v.cluster) given.push({ cluster: v.cluster });
  if (v.subtree) given.push({ subtree: v.subtree });
  if (v.all) given.push({ all: true });
  if (given.length !== 1) throw new ConfigError('expected exactly one of --device, --cluster, --subtree, --all');
  return given[0];
}

export const applyCommand = defineCommand(
  {
    command: 'apply',
    summary: 'send a supervisor spec (JSON) to a device, a cluster, a subtree or all devices as their desired state',
    usage: 'flotilla apply SPEC.json (--device ID | --cluster PATH | --subtree PATH | --all) [--api URL] [--api-token T]',
    options,
    argument: 'SPEC.json',
  },
  async (v, { argument: file }) => {
    const to = target(v);
    let json: unknown;
    try {
      json = parseBoundedJson(readFileSync(file, 'utf8'), file);
    } catch (err) {
      throw new ConfigError(`${file}: ${errorMessage(err)}`);
    }
    const result = await new ApiClient(v.api, v['api-token']).applyDesired(to, json, v['timeout-ms']);
    console.log(formatApplied(result));
    return Object.keys(result.errors).length || result.unreachable.length ? 1 : 0;
  },
);

/** One line per device: its new revision or why not; then clusters that did not answer. */
export function formatApplied(result: FanoutResult): string {
  const lines = [
    ...Object.entries(result.acks).map(([id, ack]) => `${id}  revision ${(ack.result as { revision?: number } | undefined)?.revision ?? '?'}`),
    ...Object.entries(result.errors).map(([id, error]) => `${id}  error: ${error}`),
    ...result.unreachable.map((path) => `cluster ${path}  did not answer`),
  ].sort();
  return lines.length ? lines.join('\n') : 'no devices addressed';
}
