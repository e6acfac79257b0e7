import { readFileSync } from 'node:fs';
import { parseBoundedJson } from './json-bounds.js';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, errorMessage } from './errors.js';

/**
 * Declarative command-line configuration. Each option is read, in order of precedence, from:
 *   1. its flag (`--mqtt-port 1883`),
 *   2. its environment variable (`FLOTILLA_MQTT_PORT`),
 *   3. the JSON config file named by `--config` / `FLOTILLA_CONFIG` (keys are the flag names, `"mqtt-port": 1883`),
 *   4. its default.
 * Every value goes through the option's zod schema; the first bad one stops start-up with one line naming it.
 */
export interface OptionSpec<S extends z.ZodType = z.ZodType> {
  /** Parses and validates the raw value (a string from flags/env, any JSON value from the file); its output types the value. */
  schema: S;
  description: string;
  default?: unknown;
  /** The command refuses to run without it (`--help` and `--print-config` still work). */
  required?: true;
  /** Boolean flags take no value on the command line. */
  flag?: true;
  /** May be given more than once (`--label a=1 --label b=2`); the schema gets an array (env: comma-separated). */
  multiple?: true;
  /** Hidden from `--print-config` output (tokens, passwords). */
  secret?: true;
}

/** A command's options keyed by flag name (also the env suffix and the config-file key). */
export type Options = Record<string, OptionSpec>;

/** The parsed values: each typed by its schema's output, possibly undefined unless it has a default or is required. */
export type Values<O extends Options> = {
  -readonly [K in keyof O]: O[K] extends { default: {} } | { required: true } ? z.output<O[K]['schema']> : z.output<O[K]['schema']> | undefined;
};

export interface CommandSpec<O extends Options = Options> {
  command: string;
  summary: string;
  usage?: string;
  /** More help text, printed after the usage line. */
  details?: string;
  options: O;
  /** The one positional argument the command takes (e.g. `SPEC.json`), if any; exactly one is then required. */
  argument?: string;
  /** Then one or more further arguments (`KEY=VALUE...`), if the command takes them. */
  rest?: string;
  /** False for a command without a `--config` file (one whose own `--config` means something else). */
  configFile?: false;
}

export type Source = 'flag' | 'env' | 'file' | 'default';

export interface LoadedConfig<O extends Options = Options> {
  values: Values<O>;
  sources: Partial<Record<keyof O, Source>>;
  /** The positional argument, when the spec names one (empty only for `--help`). */
  argument: string;
  /** The further arguments, when the spec names `rest`. */
  rest: string[];
  /** Set when the command should only print something and exit 0; required options are then not checked. */
  info?: 'help' | 'print-config';
}

export function envName(option: string): string {
  return 'FLOTILLA_' + option.toUpperCase().replace(/-/g, '_');
}

const CONFIG_OPTION: OptionSpec = { schema: z.string().min(1), description: 'JSON config file; keys are flag names without dashes prefix' };

function withConfigFile(spec: CommandSpec): [string, OptionSpec][] {
  const own = Object.entries(spec.options);
  return spec.configFile === false ? own : [...own, ['config', CONFIG_OPTION]];
}

export function loadConfig<O extends Options>(spec: CommandSpec<O>, argv: string[], env: NodeJS.ProcessEnv = process.env): LoadedConfig<O> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: spec.argument !== undefined,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(withConfigFile(spec).map(([name, o]) => [name, { type: o.flag ? ('boolean' as const) : ('string' as const), multiple: o.multiple === true }])),
      },
    });
  } catch (err) {
    // parseArgs messages already name the flag ("Unknown option '--foo'").
    throw new ConfigError(errorMessage(err).split('. ')[0]);
  }
  const flags = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const configPath = spec.configFile === false ? undefined : ((flags.config as string | undefined) ?? env[envName('config')]);
  const file = configPath ? readConfigFile(configPath, spec.options) : {};

  // Null prototype: option names come from the spec, but the file's keys were only checked against them.
  const values: Record<string, unknown> = Object.create(null);
  const sources: Record<string, Source> = Object.create(null);
  for (const [name, option] of Object.entries(spec.options)) {
    const env_ = env[envName(name)];
    let raw: unknown;
    let source: Source;
    if (flags[name] !== undefined) [raw, source] = [flags[name], 'flag'];
    else if (env_ !== undefined) [raw, source] = [option.flag ? parseBoolEnv(name, env_) : option.multiple ? env_.split(',') : env_, 'env'];
    else if (Object.hasOwn(file, name)) [raw, source] = [file[name], 'file'];
    else if (option.default !== undefined) [raw, source] = [option.default, 'default'];
    else continue;
    const result = option.schema.safeParse(raw);
    if (!result.success) {
      const where = source === 'flag' ? `--${name}` : source === 'env' ? envName(name) : source === 'file' ? `"${name}" in ${configPath}` : `default of --${name}`;
      // Teaching messages (shared/errors.ts) already say what was given; a schema's own message gets it appended.
      const message = result.error.issues[0]?.message ?? 'invalid';
      throw new ConfigError(`${where}: ${/, got /.test(message) ? message : `${message} (got ${JSON.stringify(raw)})`}`);
    }
    values[name] = result.data;
    sources[name] = source;
  }
  const info = flags.help === true ? 'help' : values['print-config'] === true ? 'print-config' : undefined;
  if (!info) {
    const n = parsed.positionals.length;
    if (spec.rest !== undefined && n < 2) throw new ConfigError(`expected ${spec.argument} and at least one ${spec.rest}`);
    if (spec.argument !== undefined && spec.rest === undefined && n !== 1) throw new ConfigError(`expected exactly one ${spec.argument}`);
    const missing = Object.entries(spec.options).find(([name, o]) => o.required && values[name] === undefined);
    if (missing) throw new ConfigError(`--${missing[0]} is required`);
  }
  // Every value went through its option's schema above, and every required one is present: this is what Values<O> says.
  return { values: values as Values<O>, sources: sources as LoadedConfig<O>['sources'], argument: parsed.positionals[0] ?? '', rest: parsed.positionals.slice(1), info };
}

function parseBoolEnv(name: string, value: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new ConfigError(`${envName(name)}: expected true or false (got ${JSON.stringify(value)})`);
}

function readConfigFile(path: string, options: Options): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${path}: ${errorMessage(err)}`);
  }
  let data: unknown;
  try {
    data = parseBoundedJson(text, path);
  } catch (err) {
    throw new ConfigError(`--config: ${errorMessage(err)}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`--config: ${path} must hold a JSON object`);
  }
  for (const key of Object.keys(data)) {
    if (!Object.hasOwn(options, key)) throw new ConfigError(`--config: unknown key "${key}" in ${path}`);
  }
  return data as Record<string, unknown>;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`flotilla ${spec.command} — ${spec.summary}`, '', `Usage: ${usageOf(spec)}`, ...(spec.details ? ['', spec.details] : []), '', 'Options:'];
  for (const [name, o] of withConfigFile(spec)) {
    const def = o.default !== undefined ? ` (default: ${JSON.stringify(o.default)})` : '';
    const req = o.required ? ' (required)' : '';
    lines.push(`  --${name}${o.flag ? '' : ' VALUE'}${o.multiple ? '...' : ''}`.padEnd(28) + `${o.description}${req}${def}  [env ${envName(name)}]`);
  }
  lines.push('  -h, --help'.padEnd(28) + 'show this help');
  lines.push('', 'Precedence: flag > environment variable > config file > default.');
  return lines.join('\n');
}

export function usageOf(spec: CommandSpec): string {
  return spec.usage ?? `flotilla ${spec.command}${spec.argument ? ` ${spec.argument}` : ''}${spec.rest ? ` ${spec.rest}...` : ''} [options]`;
}

/** The effective configuration with its sources, secrets masked: what `--print-config` shows. */
export function describeConfig<O extends Options>(spec: CommandSpec<O>, loaded: LoadedConfig<O>): string {
  const values: Record<string, unknown> = loaded.values;
  const sources: Partial<Record<string, Source>> = loaded.sources;
  const out: Record<string, { value: unknown; source: Source | undefined }> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    if (values[name] === undefined) continue;
    out[name] = { value: o.secret ? '***' : values[name], source: sources[name] };
  }
  return JSON.stringify(out, null, 2);
}

/** Reusable schemas for option values. */
export const opt = {
  port: z.coerce.number({ message: 'expected a port number' }).int('expected a whole port number').min(0, 'port must be 0-65535').max(65535, 'port must be 0-65535'),
  positiveInt: z.coerce.number({ message: 'expected a number' }).int('expected a whole number').positive('must be positive'),
  string: z.string().min(1, 'must not be empty'),
  url: (protocols: string[]) =>
    z.string().refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    }, `expected a URL starting with ${protocols.map((p) => p + '://').join(' or ')}`),
  bool: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
};

/** Options of every long-running command (agent, coordinator). */
export const daemonOptions = {
  'log-level': { schema: z.enum(['debug', 'info', 'warn', 'error']), default: 'info', description: 'stderr log level' },
  'print-config': { schema: opt.bool, flag: true, description: 'print the effective configuration and exit' },
} satisfies Options;
