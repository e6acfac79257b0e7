import { ConfigError } from './errors.js';
import { describeConfig, helpText, loadConfig, usageOf, type CommandSpec, type Options, type Values } from './config.js';

/** A `flotilla` subcommand. `run` returns the process exit code. */
export interface Command {
  name: string;
  summary: string;
  /** The usage line shown in a group's help. */
  usage: string;
  run(argv: string[], env?: NodeJS.ProcessEnv): Promise<number>;
}

export interface Invocation {
  /** The positional argument, when the spec names one. */
  argument: string;
  /** The further arguments, when the spec names `rest`. */
  rest: string[];
}

/**
 * A command whose `run` gets its options already parsed and typed by their schemas. The one prologue of every
 * command lives here: load the configuration, answer `--help` and `--print-config`, check required options.
 */
export function defineCommand<const O extends Options>(spec: CommandSpec<O>, run: (values: Values<O>, invocation: Invocation) => Promise<number>): Command {
  return {
    name: spec.command.split(' ').at(-1)!,
    summary: spec.summary,
    usage: usageOf(spec),
    async run(argv, env = process.env) {
      const loaded = loadConfig(spec, argv, env);
      if (loaded.info === 'help') return console.log(helpText(spec)), 0;
      if (loaded.info === 'print-config') return console.log(describeConfig(spec, loaded)), 0;
      return run(loaded.values, { argument: loaded.argument, rest: loaded.rest });
    },
  };
}

/** A command made of subcommands (`flotilla step build|run|push`): the first argument picks one. */
export function defineGroup(name: string, summary: string, subcommands: Command[]): Command {
  const help = [`flotilla ${name} — ${summary}`, '', 'Usage:', ...subcommands.map((c) => `  ${c.usage}\n      ${c.summary}`), '', `flotilla ${name} SUBCOMMAND --help for its options`].join('\n');
  return {
    name,
    summary,
    usage: `flotilla ${name} ${subcommands.map((c) => c.name).join('|')} ...`,
    async run(argv, env) {
      const [sub, ...rest] = argv;
      if (sub === undefined || sub === '--help' || sub === '-h') return console.log(help), sub ? 0 : 2;
      const command = subcommands.find((c) => c.name === sub);
      if (!command) throw new ConfigError(`unknown subcommand "${sub}" (expected ${subcommands.map((c) => c.name).join(', ')})`);
      // A subcommand's own help also lists its siblings.
      if (rest.includes('--help') || rest.includes('-h')) {
        const code = await command.run(rest, env);
        console.log(`\n${help}`);
        return code;
      }
      return command.run(rest, env);
    },
  };
}
