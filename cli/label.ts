import { defineCommand } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { parseLabelArgs } from '../shared/labels.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

/** `flotilla label ID k=v k2-`, as kubectl label: set labels, remove those ending in `-`; prints the result. */
export const labelCommand = defineCommand(
  {
    command: 'label',
    summary: "set (KEY=VALUE) or remove (KEY-) a device's labels at its coordinator",
    usage: 'flotilla label DEVICE-ID KEY=VALUE|KEY-... [--api URL] [--api-token T]',
    options: apiOptions,
    argument: 'DEVICE-ID',
    rest: 'KEY=VALUE|KEY-',
  },
  async (v, { argument: id, rest }) => {
    let patch;
    try {
      patch = parseLabelArgs(rest);
    } catch (err) {
      throw new ConfigError(errorMessage(err));
    }
    const { labels } = await new ApiClient(v.api, v['api-token']).label(id, patch);
    console.log(formatLabels(labels) || '(no labels)');
    return 0;
  },
);

export function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, val]) => `${k}=${val}`)
    .join(',');
}
