import { z } from 'zod';
import { defineCommand } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { applyLabelPatch, NO_LABELS, parseLabelArgs } from '../shared/labels.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

export const enrollCommand = defineCommand(
  {
    command: 'enroll',
    summary: 'issue a device token (enrolls the device, or rotates its token); prints the token once',
    usage: 'flotilla enroll DEVICE-ID [--label KEY=VALUE]... [--api URL] [--api-token T]',
    options: { label: { schema: z.array(z.string()), multiple: true, description: 'a label KEY=VALUE (Kubernetes syntax); repeat for more' }, ...apiOptions },
    argument: 'DEVICE-ID',
  },
  async (v, { argument: id }) => {
    let labels;
    try {
      labels = v.label ? applyLabelPatch(NO_LABELS, parseLabelArgs(v.label, false)) : undefined;
    } catch (err) {
      throw new ConfigError(`--label: ${errorMessage(err)}`);
    }
    const { token } = await new ApiClient(v.api, v['api-token']).enroll(id, labels);
    console.log(token);
    return 0;
  },
);
