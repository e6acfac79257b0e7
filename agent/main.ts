import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { answerInfoFlags, daemonOptions, loadConfig, opt, type CommandSpec } from '../shared/config.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { DeviceId } from '../shared/ids.js';
import { announce, createLogger, type LogLevel } from '../shared/log.js';
import { untilSignal } from '../shared/signals.js';
import { Agent } from './agent.js';
import { attachWorkload } from './workload/index.js';
import { targetName } from './health.js';

export const agentSpec: CommandSpec = {
  command: 'agent',
  summary: 'run an edge agent: join a coordinator, run Wasm steps, report health',
  options: [
    { name: 'coordinator', schema: opt.url(['mqtt', 'mqtts']), description: 'coordinator MQTT URL, e.g. mqtt://10.0.0.2:1883 (required)' },
    { name: 'id', schema: DeviceId, description: 'this device\'s id (required)' },
    { name: 'token', schema: opt.string, secret: true, description: 'device token issued by the coordinator (or --token-file)' },
    { name: 'token-file', schema: opt.string, description: 'file holding the device token' },
    { name: 'data-dir', schema: opt.string, default: './flotilla-agent', description: 'directory for local state and steps' },
    {
      name: 'health-interval',
      schema: opt.positiveInt.refine((n) => 60 % n === 0, 'must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)'),
      default: 10,
      description: 'seconds between health reports',
    },
    { name: 'ca', schema: opt.string, description: 'CA certificate (PEM) to verify an mqtts:// coordinator' },
    {
      name: 'spare-isolates',
      schema: z.coerce.number({ message: 'expected a number' }).int('expected a whole number').min(0, 'must be 0 or more'),
      default: 1,
      description: 'warm step isolates kept while steps run: restarts in ~3 ms instead of ~25 ms, ~7 MB RSS each',
    },
    ...daemonOptions,
  ],
};

/** `flotilla agent`: connect, print `{"event":"joined",...}`, run until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<number> {
  const loaded = loadConfig(agentSpec, argv);
  if (answerInfoFlags(agentSpec, loaded)) return 0;
  const v = loaded.values as Record<string, string | number | undefined>;
  for (const required of ['coordinator', 'id'] as const) {
    if (v[required] === undefined) throw new ConfigError(`--${required} is required`);
  }
  const token = (v.token as string | undefined) ?? (v['token-file'] ? readToken(v['token-file'] as string) : undefined);
  if (!token) throw new ConfigError('--token or --token-file is required');
  const log = createLogger(`agent ${v.id}`, v['log-level'] as LogLevel);
  const agent = await Agent.open({
    coordinatorUrl: v.coordinator as string,
    id: v.id as string,
    token,
    dataDir: v['data-dir'] as string,
    healthIntervalS: v['health-interval'] as number,
    caFile: v.ca as string | undefined,
    target: targetName(),
    log,
  });
  const workload = await attachWorkload(agent, { spareIsolates: v['spare-isolates'] as number });
  await agent.joined;
  announce('joined', { id: v.id, coordinator: v.coordinator, arch: process.arch, target: targetName() });
  await untilSignal();
  log.info('shutting down');
  await workload.stop();
  await agent.stop();
  return 0;
}

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`--token-file: cannot read ${path}: ${errorMessage(err)}`);
  }
}
