import { opt, type Options } from '../shared/config.js';

/** Options every API-client command takes. */
export const apiOptions = {
  api: { schema: opt.url(['http', 'https']), default: 'http://127.0.0.1:8080', description: 'coordinator HTTP API base URL' },
  'api-token': { schema: opt.string, secret: true, description: 'API token, if the coordinator requires one' },
} satisfies Options;
