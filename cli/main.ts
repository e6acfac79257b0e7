#!/usr/bin/env node
import { ConfigError, errorMessage } from '../shared/errors.js';
import { FLOTILLA_VERSION } from '../shared/version.js';
import type { Command } from '../shared/command.js';
import { demoCommand } from './demo.js';
import { devicesCommand } from './devices.js';
import { enrollCommand } from './enroll.js';
import { labelCommand } from './label.js';
import { rolloutCommand } from './rollout.js';
import { logsCommand } from './logs.js';
import { applyCommand } from './apply.js';
import { keysCommand } from './keys.js';
import { agentReleaseCommand } from './agent-release.js';

/** A command loaded only when it runs, so each process loads only its own side. */
function lazy(name: string, summary: string, load: () => Promise<Command>): Command {
  return { name, summary, usage: `flotilla ${name} ...`, run: async (argv, env) => (await load()).run(argv, env) };
}

/** Subcommands; coordinator, agent and step are loaded lazily. */
const commands: Command[] = [
  lazy('coordinator', 'run a cluster coordinator (embedded MQTT broker, registry, HTTP API)', async () => (await import('../coordinator/main.js')).coordinatorCommand),
  lazy('agent', 'run an edge agent that joins a coordinator', async () => (await import('../agent/main.js')).agentCommand),
  devicesCommand,
  enrollCommand,
  labelCommand,
  logsCommand,
  keysCommand,
  lazy('step', 'build a step (AssemblyScript -> .wasm + manifest), run one on stdin lines, sign one, push one to a coordinator', async () => (await import('./step.js')).stepCommand),
  applyCommand,
  agentReleaseCommand,
  rolloutCommand,
  demoCommand,
];

function usage(): string {
  return [
    `flotilla ${FLOTILLA_VERSION} — edge IoT fleet with WebAssembly steps under OTP-style supervision`,
    '',
    'Usage: flotilla <command> [options]    (flotilla <command> --help for its options)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(14)}${c.summary}`),
  ].join('\n');
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') return console.log(usage()), name ? 0 : 2;
  if (name === '--version') return console.log(FLOTILLA_VERSION), 0;
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`flotilla: unknown command "${name}" (see flotilla --help)`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    // Bad configuration: one line naming the culprit, exit 2. Anything else: the message, exit 1.
    console.error(`flotilla ${name}: ${errorMessage(err)}`);
    return err instanceof ConfigError ? 2 : 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
