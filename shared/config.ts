import { readFileSync } from 'node:fs';
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
export interface OptionSpec {
  name: string;
  /** Parses and validates the raw value (a string from flags/env, any JSON value from the file). */
  schema: z.ZodType;
  description: string;
  default?: unknown;
  /** Boolean flags take no value on the command line. */
  flag?: boolean;
  /** Hidden from `--print-config` output (tokens, passwords). */
  secret?: boolean;
}

export interface CommandSpec {
  command: string;
  summary: string;
  usage?: string;
  options: OptionSpec[];
  /** The one positional argument the command takes (e.g. `SPEC.json`), if any; exactly one is then required. */
  argument?: string;
  /** False for a command without a `--config` file (one whose own `--config` means something else). */
  configFile?: boolean;
}

export type Source = 'flag' | 'env' | 'file' | 'default';

export interface LoadedConfig {
  values: Record<string, unknown>;
  sources: Record<string, Source>;
  /** The positional argument, when the spec names one (empty only for `--help`). */
  argument: string;
  help: boolean;
}

export function envName(option: string): string {
  return 'FLOTILLA_' + option.toUpperCase().replace(/-/g, '_');
}

const CONFIG_OPTION: OptionSpec = {
  name: 'config',
  schema: z.string().min(1),
  description: 'JSON config file; keys are flag names without dashes prefix',
};

function withConfigFile(spec: CommandSpec): OptionSpec[] {
  return spec.configFile === false ? spec.options : [...spec.options, CONFIG_OPTION];
}

export function loadConfig(spec: CommandSpec, argv: string[], env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const all = withConfigFile(spec);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: spec.argument !== undefined,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(all.map((o) => [o.name, { type: o.flag ? ('boolean' as const) : ('string' as const) }])),
      },
    });
  } catch (err) {
    // parseArgs messages already name the flag ("Unknown option '--foo'").
    throw new ConfigError(errorMessage(err).split('. ')[0]);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const configPath = spec.configFile === false ? undefined : ((flags.config as string | undefined) ?? env[envName('config')]);
  const file = configPath ? readConfigFile(configPath, spec.options) : {};

  const values: Record<string, unknown> = {};
  const sources: Record<string, Source> = {};
  for (const option of spec.options) {
    const env_ = env[envName(option.name)];
    let raw: unknown;
    let source: Source;
    if (flags[option.name] !== undefined) [raw, source] = [flags[option.name], 'flag'];
    else if (env_ !== undefined) [raw, source] = [option.flag ? parseBoolEnv(option.name, env_) : env_, 'env'];
    else if (option.name in file) [raw, source] = [file[option.name], 'file'];
    else if (option.default !== undefined) [raw, source] = [option.default, 'default'];
    else continue;
    const result = option.schema.safeParse(raw);
    if (!result.success) {
      const where = source === 'flag' ? `--${option.name}` : source === 'env' ? envName(option.name) : source === 'file' ? `"${option.name}" in ${configPath}` : `default of --${option.name}`;
      throw new ConfigError(`${where}: ${result.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(raw)})`);
    }
    values[option.name] = result.data;
    sources[option.name] = source;
  }
  const help = flags.help === true;
  if (spec.argument !== undefined && !help && parsed.positionals.length !== 1) {
    throw new ConfigError(`expected exactly one ${spec.argument}`);
  }
  return { values, sources, argument: parsed.positionals[0] ?? '', help };
}

function parseBoolEnv(name: string, value: string): boolean {
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new ConfigError(`${envName(name)}: expected true or false (got ${JSON.stringify(value)})`);
}

function readConfigFile(path: string, options: OptionSpec[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--config: cannot read ${path}: ${errorMessage(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`--config: ${path} is not valid JSON: ${errorMessage(err)}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(`--config: ${path} must hold a JSON object`);
  }
  const known = new Set(options.map((o) => o.name));
  for (const key of Object.keys(data)) {
    if (!known.has(key)) throw new ConfigError(`--config: unknown key "${key}" in ${path}`);
  }
  return data as Record<string, unknown>;
}

export function helpText(spec: CommandSpec): string {
  const lines = [`flotilla ${spec.command} — ${spec.summary}`, '', `Usage: ${spec.usage ?? `flotilla ${spec.command} [options]`}`, '', 'Options:'];
  const all = withConfigFile(spec);
  for (const o of all) {
    const def = o.default !== undefined ? ` (default: ${JSON.stringify(o.default)})` : '';
    lines.push(`  --${o.name}${o.flag ? '' : ' VALUE'}`.padEnd(28) + `${o.description}${def}  [env ${envName(o.name)}]`);
  }
  lines.push('  -h, --help'.padEnd(28) + 'show this help');
  lines.push('', 'Precedence: flag > environment variable > config file > default.');
  return lines.join('\n');
}

/** The effective configuration with its sources, secrets masked: what `--print-config` shows. */
export function describeConfig(spec: CommandSpec, loaded: LoadedConfig): string {
  const out: Record<string, { value: unknown; source: Source }> = {};
  for (const o of spec.options) {
    if (!(o.name in loaded.values)) continue;
    out[o.name] = { value: o.secret ? '***' : loaded.values[o.name], source: loaded.sources[o.name] };
  }
  return JSON.stringify(out, null, 2);
}

/** Answers `--help` and `--print-config`; true when it did, and the command should exit 0. */
export function answerInfoFlags(spec: CommandSpec, loaded: LoadedConfig): boolean {
  if (loaded.help) console.log(helpText(spec));
  else if (loaded.values['print-config']) console.log(describeConfig(spec, loaded));
  else return false;
  return true;
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
export const daemonOptions: OptionSpec[] = [
  { name: 'log-level', schema: z.enum(['debug', 'info', 'warn', 'error']), default: 'info', description: 'stderr log level' },
  { name: 'print-config', schema: opt.bool, flag: true, description: 'print the effective configuration and exit' },
];
