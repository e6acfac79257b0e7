import { readFileSync } from 'node:fs';
import { daemonOptions, opt, type CommandSpec } from '../shared/config.js';
import { defineCommand } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { DeviceId } from '../shared/ids.js';
import { announce, createLogger } from '../shared/log.js';
import { untilSignal } from '../shared/signals.js';
import { watchUnhandledRejections } from '../shared/unhandled-rejections.js';
import { Agent, SPOOL_BYTES } from './agent.js';
import { LogForwarder } from './log-forwarder.js';
import { AgentRevocations, attachWorkload } from './workload/index.js';
import { targetName } from './health.js';
import { readTrustedKeys } from '../shared/signing-keys.js';
import { artifactPath } from '../shared/agent-release.js';
import { launchEnv, Updater } from './update/index.js';
import { z } from 'zod';

export const agentSpec = {
  command: 'agent',
  summary: 'run an edge agent: join a coordinator, run Wasm steps, report health',
  options: {
    coordinator: { schema: opt.url(['mqtt', 'mqtts']), required: true, description: 'coordinator MQTT URL, e.g. mqtt://10.0.0.2:1883' },
    id: { schema: DeviceId, required: true, description: 'this device\'s id' },
    token: { schema: opt.string, secret: true, description: 'device token issued by the coordinator (or --token-file)' },
    'token-file': { schema: opt.string, description: 'file holding the device token' },
    'data-dir': { schema: opt.string, default: './flotilla-agent', description: 'directory for local state and steps' },
    'health-interval': { schema: opt.positiveInt.max(86_400, 'at most 86400 (a day)'), default: 10, description: 'seconds between health reports' },
    ca: { schema: opt.string, description: 'CA certificate (PEM) to verify an mqtts:// coordinator' },
    'spool-bytes': {
      schema: opt.positiveInt,
      default: SPOOL_BYTES,
      description: 'bytes of outputs and events kept on disk while the coordinator is unreachable; beyond, new ones are dropped (counted in health)',
    },
    trust: {
      schema: z.array(z.string().min(1)),
      multiple: true,
      description: 'public key (PEM) of a trusted publisher: run only steps, and install only agent releases, signed by a trusted key; repeat for more (rotation)',
    },
    'releases-url': {
      schema: opt.url(['http', 'https']),
      description: "where agent releases are downloaded (default: http://<the --coordinator host>:<its HTTP port>)",
    },
    ...daemonOptions,
  },
} satisfies CommandSpec;

/** `flotilla agent`: connect, print `{"event":"joined",...}`, run until SIGINT/SIGTERM. */
export const agentCommand = defineCommand(agentSpec, async (v) => {
  const token = v.token ?? (v['token-file'] ? readToken(v['token-file']) : undefined);
  if (!token) throw new ConfigError('--token or --token-file is required');
  const trusted = readTrustedKeys(v.trust);
  // Warn and error lines (the agent's and its steps') also go to the coordinator, once the link exists.
  let agent: Agent | undefined;
  const logs = new LogForwarder({ send: (line) => agent?.sendLog(line) ?? false });
  const log = createLogger(`agent ${v.id}`, v['log-level'], undefined, (record) => logs.record(record));
  const unwatch = watchUnhandledRejections(log);
  agent = await Agent.open({
    coordinatorUrl: v.coordinator,
    id: v.id,
    token,
    dataDir: v['data-dir'],
    healthIntervalS: v['health-interval'],
    caFile: v.ca,
    spoolBytes: v['spool-bytes'],
    target: targetName(),
    log,
  });
  agent.addHealthSource(() => ({ logsDropped: logs.dropped }));
  const a = agent;
  // One copy of the revoked keys for steps and releases alike.
  const revocations = new AgentRevocations(agent.state);
  const updater = await Updater.open({
    launch: launchEnv(),
    dataDir: v['data-dir'],
    target: targetName(),
    trusted,
    revoked: () => revocations.keyIds(),
    artifactUrl: (pin) => new URL(artifactPath(pin.release.sha256), v['releases-url'] ?? `http://${new URL(v.coordinator).hostname}:${pin.httpPort}`).href,
    emitEvent: (type, data) => a.emitEvent(type, data),
    reportHealth: () => a.reportHealth(),
    // The same clean stop as a service stop; the launcher then starts the staged slot.
    restart: () => process.kill(process.pid, 'SIGTERM'),
    log: log.child('update'),
  });
  agent.addHealthSource(() => updater.health());
  const workload = await attachWorkload(agent, { trusted, revocations, onDesired: (desired) => void updater.desired(desired.revision, desired.agent) });
  await agent.joined;
  // A trial agent commits once its coordinator took it in (CONNACK: reached and authenticated) and the tree it had
  // on disk runs again; if that tree does not start under it, it ends its trial at once.
  await workload.whenIdle();
  await updater.joined(agent.state.data.desired === null || workload.desired !== undefined);
  announce('joined', { id: v.id, coordinator: v.coordinator, arch: process.arch, target: targetName(), version: updater.version });
  await untilSignal();
  log.info('shutting down');
  agent.beginStop();
  await workload.stop();
  await agent.stop();
  unwatch();
  return 0;
});

export const main = (argv: string[]) => agentCommand.run(argv);

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`--token-file: cannot read ${path}: ${errorMessage(err)}`);
  }
}
