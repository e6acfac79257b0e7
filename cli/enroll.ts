import { helpText, loadConfig, type CommandSpec } from '../shared/config.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';
import type { Command } from './command.js';

const spec: CommandSpec = {
  command: 'enroll',
  summary: 'issue a device token (enrolls the device, or rotates its token); prints the token once',
  usage: 'flotilla enroll DEVICE-ID [--api URL] [--api-token T]',
  options: apiOptions,
  argument: 'DEVICE-ID',
};

export const enrollCommand: Command = {
  name: 'enroll',
  summary: spec.summary,
  async run(argv) {
    const loaded = loadConfig(spec, argv);
    if (loaded.help) return console.log(helpText(spec)), 0;
    const v = loaded.values as { api: string; 'api-token'?: string };
    const { token } = await new ApiClient(v.api, v['api-token']).enroll(loaded.argument);
    console.log(token);
    return 0;
  },
};
