import { defineCommand } from '../shared/command.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

export const enrollCommand = defineCommand(
  {
    command: 'enroll',
    summary: 'issue a device token (enrolls the device, or rotates its token); prints the token once',
    usage: 'flotilla enroll DEVICE-ID [--api URL] [--api-token T]',
    options: apiOptions,
    argument: 'DEVICE-ID',
  },
  async (v, { argument: id }) => {
    const { token } = await new ApiClient(v.api, v['api-token']).enroll(id);
    console.log(token);
    return 0;
  },
);
