import { z } from 'zod';
import { answerInfoFlags, daemonOptions, loadConfig, opt, type CommandSpec } from '../shared/config.js';
import { ConfigError } from '../shared/errors.js';
import { announce, createLogger, type LogLevel } from '../shared/log.js';
import { untilSignal } from '../shared/signals.js';
import { Coordinator } from './coordinator.js';
import { readTokensFile } from './registry/registry.js';
import { ClusterName } from '../shared/fleet-topics.js';
import { readChildTokensFile } from './federation/child-tokens.js';

export const coordinatorSpec: CommandSpec = {
  command: 'coordinator',
  summary: 'run a cluster coordinator: embedded MQTT broker, device registry, HTTP API',
  options: [
    { name: 'host', schema: opt.string, default: '0.0.0.0', description: 'address to listen on (MQTT, MQTTS and HTTP)' },
    { name: 'mqtt-port', schema: opt.port, default: 1883, description: 'MQTT port for agents (0 = any free port)' },
    { name: 'http-port', schema: opt.port, default: 8080, description: 'HTTP API port (0 = any free port)' },
    { name: 'data-dir', schema: opt.string, default: './flotilla-data', description: 'directory for the registry (lowdb)' },
    { name: 'cluster', schema: ClusterName, default: 'local', description: 'this cluster\'s name (a level of the cluster path)' },
    { name: 'parent', schema: opt.url(['mqtt', 'mqtts']), description: 'parent coordinator MQTT URL: bridge this cluster under it (needs --token)' },
    { name: 'token', schema: opt.string, secret: true, description: 'this cluster\'s token on the parent (POST /api/v1/clusters there)' },
    { name: 'child-tokens-file', schema: opt.string, description: 'JSON file of pre-shared child coordinator tokens {"name":"token"}' },
    { name: 'broker', schema: opt.url(['mqtt']), description: 'use this external MQTT 3.1.1 broker instead of the embedded one' },
    { name: 'broker-username', schema: opt.string, description: 'username on --broker' },
    { name: 'broker-password', schema: opt.string, secret: true, description: 'password on --broker' },
    { name: 'summary-ms', schema: opt.positiveInt, default: 1000, description: 'minimum milliseconds between two summaries sent to the parent' },
    { name: 'buffer-limit', schema: opt.positiveInt, default: 10000, description: 'uplink messages kept while the parent is unreachable' },
    { name: 'api-token', schema: z.string().min(8, 'must be at least 8 characters'), secret: true, description: 'require "Authorization: Bearer TOKEN" on the API' },
    { name: 'tokens-file', schema: opt.string, description: 'JSON file of pre-shared device tokens {"id":"token"}' },
    { name: 'tls-cert', schema: opt.string, description: 'PEM certificate: also serve mqtts:// (needs --tls-key)' },
    { name: 'tls-key', schema: opt.string, description: 'PEM private key for --tls-cert' },
    { name: 'mqtts-port', schema: opt.port, default: 8883, description: 'MQTT over TLS port, when --tls-cert is given' },
    ...daemonOptions,
  ],
};

/** `flotilla coordinator`: start, print `{"event":"listening",...}`, run until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  const loaded = loadConfig(coordinatorSpec, argv);
  if (answerInfoFlags(coordinatorSpec, loaded)) return 0;
  const v = loaded.values as Record<string, string | number | undefined>;
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) {
    throw new ConfigError('--tls-cert and --tls-key must be given together');
  }
  if ((v.parent === undefined) !== (v.token === undefined)) throw new ConfigError('--parent and --token must be given together');
  const log = createLogger(`coordinator ${v.cluster}`, v['log-level'] as LogLevel);
  const coordinator = await Coordinator.start({
    host: v.host as string,
    mqttPort: v['mqtt-port'] as number,
    httpPort: v['http-port'] as number,
    dataDir: v['data-dir'] as string,
    cluster: v.cluster as string,
    apiToken: v['api-token'] as string | undefined,
    tokens: v['tokens-file'] ? readTokensFile(v['tokens-file'] as string) : undefined,
    tls: v['tls-cert'] ? { port: v['mqtts-port'] as number, certFile: v['tls-cert'] as string, keyFile: v['tls-key'] as string } : undefined,
    parent: v.parent ? { url: v.parent as string, token: v.token as string } : undefined,
    broker: v.broker ? { url: v.broker as string, username: v['broker-username'] as string | undefined, password: v['broker-password'] as string | undefined } : undefined,
    childTokens: v['child-tokens-file'] ? readChildTokensFile(v['child-tokens-file'] as string) : undefined,
    summaryMs: v['summary-ms'] as number,
    bufferLimit: v['buffer-limit'] as number,
    log,
  });
  announce('listening', { mqtt: coordinator.mqttPort, http: coordinator.httpPort, ...(coordinator.mqttsPort !== undefined ? { mqtts: coordinator.mqttsPort } : {}) });
  log.info(`cluster "${v.cluster}": MQTT on ${v.host}:${coordinator.mqttPort}, HTTP API on http://${v.host}:${coordinator.httpPort}/api/v1`);
  await untilSignal();
  log.info('shutting down');
  await coordinator.stop();
  return 0;
}
