import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import { StepRuntime, type ExitReason } from '../agent/runtime/index.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { isNormalExit } from '../shared/step-abi.js';
import { manifestFor, parseStepManifest, type StepManifest } from '../shared/step-manifest.js';
import type { Command } from './command.js';
import { buildStep } from './step-build.js';
import { pushStep } from './step-push.js';

const USAGE = `flotilla step — build and try Wasm steps locally

Usage:
  flotilla step build DIR [--out DIR]
      Compile the AssemblyScript step in DIR (step.json + index.ts) to <out>/<name>.wasm and
      <out>/<name>.manifest.json (sha256, ABI version, limits). Default --out: DIR/build.
  flotilla step run FILE.wasm [--config JSON] [--manifest FILE]
      Run the step on newline-separated stdin, one input message per line, through the agent's runtime;
      print each output message on its own line (logs go to stderr). The manifest defaults to
      FILE.manifest.json beside the module, or default limits when there is none.
      Exit code: 0 when the step ends normally, 1 with the exit reason on stderr otherwise.
  flotilla step push FILE.wasm [--name N --version V] [--api URL --api-token T]
      Upload the module to a coordinator's step registry as N@V, with the limits of FILE.manifest.json
      beside it (name and version default to the manifest's).`;

function parse(argv: string[], options: Record<string, { type: 'string' }>): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, ...options } });
  } catch (err) {
    throw new ConfigError(errorMessage(err).split('. ')[0]);
  }
}

async function build(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { out: { type: 'string' } });
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length !== 1) throw new ConfigError('step build: expected exactly one DIR');
  const built = await buildStep(positionals[0], values.out as string | undefined);
  console.log(`${built.wasmPath} (${built.manifest.name}@${built.manifest.version}, sha256 ${built.manifest.sha256})`);
  return 0;
}

function readManifest(wasmPath: string, bytes: Uint8Array, explicit: string | undefined): StepManifest {
  const beside = wasmPath.replace(/\.wasm$/, '') + '.manifest.json';
  const path = explicit ?? (existsSync(beside) ? beside : undefined);
  if (!path) return manifestFor(bytes, { name: basename(wasmPath, '.wasm').toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'step', version: '0.0.0-local' });
  try {
    return parseStepManifest(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new ConfigError(`--manifest ${path}: ${errorMessage(err)}`);
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { config: { type: 'string' }, manifest: { type: 'string' } });
  if (values.help) return console.log(USAGE), 0;
  if (positionals.length !== 1) throw new ConfigError('step run: expected exactly one FILE.wasm');
  const config = values.config as string | undefined;
  if (config !== undefined) {
    try {
      JSON.parse(config);
    } catch (err) {
      throw new ConfigError(`--config: not valid JSON: ${errorMessage(err)}`);
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(positionals[0]);
  } catch (err) {
    throw new ConfigError(`cannot read ${positionals[0]}: ${errorMessage(err)}`);
  }
  const manifest = readManifest(positionals[0], bytes, values.manifest as string | undefined);
  // One run of one step: a warm spare for fast restarts would never be used.
  const runtime = new StepRuntime({ spares: 0 });
  const step = await runtime.load(bytes, manifest);
  let exited: ExitReason | undefined;
  let lines: Interface | undefined;
  const handle = await runtime.start({
    id: manifest.name,
    step,
    config,
    onOutput: (payload) => void process.stdout.write(Buffer.concat([payload, NEWLINE])),
    onLog: (level, message) => void process.stderr.write(`[${manifest.name}] ${level}: ${message}\n`),
    onExit: (reason) => {
      // A step that finishes (or fails) ends the run at once, without waiting for the end of stdin.
      exited = reason;
      lines?.close();
      process.stdin.destroy();
    },
  });
  // Created only now: readline starts reading at once, and lines read before the loop below begins would be lost.
  lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (exited) break;
    handle.push(Buffer.from(line, 'utf8'));
    // Back-pressure: read on only once the step has caught up.
    while (!exited && handle.stats().queued >= 10_000) await new Promise((r) => setImmediate(r));
  }
  while (!exited && handle.stats().queued > 0) await new Promise((r) => setImmediate(r));
  const reason = exited ?? (await handle.stop());
  if (isNormalExit(reason)) return 0;
  console.error(`flotilla step run: the step exited: ${reason}`);
  return 1;
}

const NEWLINE = Buffer.from('\n');

export const stepCommand: Command = {
  name: 'step',
  summary: 'build a step (AssemblyScript -> .wasm + manifest), run one locally on stdin lines, or push one to a coordinator',
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'build') return build(rest);
    if (sub === 'run') return run(rest);
    if (sub === 'push') return pushStep(rest);
    if (sub === undefined || sub === '--help' || sub === '-h') return console.log(USAGE), sub ? 0 : 2;
    throw new ConfigError(`step: unknown subcommand "${sub}" (expected build, run or push)`);
  },
};
