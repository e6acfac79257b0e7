import { z } from 'zod';
import { daemonOptions, opt, type CommandSpec } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { ConfigError } from '../shared/errors.js';
import { announce, createLogger } from '../shared/log.js';
import { untilSignal } from '../shared/signals.js';
import { watchUnhandledRejections } from '../shared/unhandled-rejections.js';
import { Coordinator } from './coordinator.js';
import { readTokensFile } from './registry/registry.js';
import { ClusterName } from '../shared/fleet-topics.js';
import { readChildTokensFile } from './federation/child-tokens.js';
import { readTrustedKeys } from '../shared/signing-keys.js';

export const coordinatorSpec = {
  command: 'coordinator',
  summary: 'run a cluster coordinator: embedded MQTT broker, device registry, HTTP API',
  options: {
    host: { schema: opt.string, default: '0.0.0.0', description: 'address to listen on (MQTT, MQTTS and HTTP)' },
    'mqtt-port': { schema: opt.port, default: 1883, description: 'MQTT port for agents (0 = any free port)' },
    'http-port': { schema: opt.port, default: 8080, description: 'HTTP API port (0 = any free port)' },
    'data-dir': { schema: opt.string, default: './flotilla-data', description: 'directory for the registry, child credentials and steps' },
    cluster: { schema: ClusterName, default: 'local', description: 'this cluster\'s name (a level of the cluster path)' },
    parent: { schema: opt.url(['mqtt', 'mqtts']), description: 'parent coordinator MQTT URL: bridge this cluster under it (needs --token)' },
    token: { schema: opt.string, secret: true, description: 'this cluster\'s token on the parent (POST /api/v1/clusters there)' },
    'child-tokens-file': { schema: opt.string, description: 'JSON file of pre-shared child coordinator tokens {"name":"token"}' },
    broker: { schema: opt.url(['mqtt']), description: 'use this external MQTT 3.1.1 broker instead of the embedded one' },
    'broker-username': { schema: opt.string, description: 'username on --broker' },
    'broker-password': { schema: opt.string, secret: true, description: 'password on --broker' },
    'summary-ms': { schema: opt.positiveInt, default: 1000, description: 'minimum milliseconds between two summaries sent to the parent' },
    'buffer-limit': { schema: opt.positiveInt, default: 10000, description: 'uplink messages spooled on disk while the parent is unreachable; beyond, new ones are dropped (counted)' },
    'spool-bytes': { schema: opt.positiveInt, default: 64 * 1024 * 1024, description: 'uplink bytes spooled on disk while the parent is unreachable' },
    'api-token': { schema: z.string().min(8, 'must be at least 8 characters'), secret: true, description: 'require "Authorization: Bearer TOKEN" on the API' },
    'tokens-file': { schema: opt.string, description: 'JSON file of pre-shared device tokens {"id":"token"}' },
    'tls-cert': { schema: opt.string, description: 'PEM certificate: also serve mqtts:// (needs --tls-key)' },
    'tls-key': { schema: opt.string, description: 'PEM private key for --tls-cert' },
    'mqtts-port': { schema: opt.port, default: 8883, description: 'MQTT over TLS port, when --tls-cert is given' },
    trust: { schema: z.array(z.string().min(1)), multiple: true, description: 'public key (PEM) of a trusted step publisher: refuse step uploads it did not sign; repeat for more' },
    'parent-http': { schema: opt.url(['http', 'https']), description: 'parent coordinator HTTP URL: agent releases and their artifacts this cluster lacks come from there (once each)' },
    'parent-api-token': { schema: opt.string, secret: true, description: 'API token of --parent-http, if it requires one' },
    ...daemonOptions,
  },
} satisfies CommandSpec;

/** `flotilla coordinator`: start, print `{"event":"listening",...}`, run until SIGINT/SIGTERM. */
export const coordinatorCommand = defineCommand(coordinatorSpec, async (v) => {
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key must be given together');
  }
  if ((v.parent === undefined) !== (v.token === undefined)) throw new ConfigError('--parent and --token must be given together');
  const log = createLogger(`coordinator ${v.cluster}`, v['log-level']);
  let coordinator: Coordinator | undefined;
  const unwatch = watchUnhandledRejections(log, () => coordinator?.metrics.unhandledRejections.inc());
  coordinator = await Coordinator.start({
    host: v.host,
    mqttPort: v['mqtt-port'],
    httpPort: v['http-port'],
    dataDir: v['data-dir'],
    cluster: v.cluster,
    apiToken: v['api-token'],
    tokens: v['tokens-file'] ? readTokensFile(v['tokens-file']) : undefined,
    tls: v['tls-cert'] && v['tls-key'] ? { port: v['mqtts-port'], certFile: v['tls-cert'], keyFile: v['tls-key'] } : undefined,
    parent: v.parent && v.token ? { url: v.parent, token: v.token } : undefined,
    broker: v.broker ? { url: v.broker, username: v['broker-username'], password: v['broker-password'] } : undefined,
    childTokens: v['child-tokens-file'] ? readChildTokensFile(v['child-tokens-file']) : undefined,
    summaryMs: v['summary-ms'],
    bufferLimit: v['buffer-limit'],
    spoolBytes: v['spool-bytes'],
    trust: readTrustedKeys(v.trust),
    parentHttp: v['parent-http'] ? { http: v['parent-http'], token: v['parent-api-token'] } : undefined,
    log,
  });
  announce('listening', { mqtt: coordinator.mqttPort, http: coordinator.httpPort, ...(coordinator.mqttsPort !== undefined ? { mqtts: coordinator.mqttsPort } : {}) });
  log.info(`cluster "${v.cluster}": MQTT on ${v.host}:${coordinator.mqttPort}, HTTP API on http://${v.host}:${coordinator.httpPort}/api/v1`);
  await untilSignal();
  log.info('shutting down');
  await coordinator.stop();
  unwatch();
  return 0;
});

export const main = (argv: string[]) => coordinatorCommand.run(argv);
