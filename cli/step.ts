import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { StepRuntime, type ExitReason } from '../agent/runtime/index.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { isNormalExit } from '../shared/step-abi.js';
import { loadConfig, opt, type CommandSpec } from '../shared/config.js';
import { manifestFor, sha256Hex } from '../shared/step-manifest.js';
import type { Command } from './command.js';
import { buildStep } from './step-build.js';
import { pushStep } from './step-push.js';
import { readManifestFile } from './step-manifest-file.js';

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

const buildSpec: CommandSpec = {
  command: 'step build',
  summary: 'compile an AssemblyScript step to .wasm plus its manifest',
  argument: 'DIR',
  options: [{ name: 'out', schema: opt.string, description: 'output directory (default: DIR/build)' }],
};

const runSpec: CommandSpec = {
  command: 'step run',
  summary: 'run a step on newline-separated stdin',
  argument: 'FILE.wasm',
  configFile: false,
  options: [
    { name: 'config', schema: opt.string, description: "the step's config, JSON" },
    { name: 'manifest', schema: opt.string, description: 'manifest file (default: FILE.manifest.json beside the module)' },
  ],
};

async function build(argv: string[]): Promise<number> {
  const loaded = loadConfig(buildSpec, argv);
  if (loaded.help) return console.log(USAGE), 0;
  const built = await buildStep(loaded.argument, loaded.values.out as string | undefined);
  console.log(`${built.wasmPath} (${built.manifest.name}@${built.manifest.version}, sha256 ${built.manifest.sha256})`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const loaded = loadConfig(runSpec, argv);
  if (loaded.help) return console.log(USAGE), 0;
  const wasmPath = loaded.argument;
  const config = loaded.values.config as string | undefined;
  if (config !== undefined) {
    try {
      JSON.parse(config);
    } catch (err) {
      throw new ConfigError(`--config: not valid JSON: ${errorMessage(err)}`);
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(wasmPath);
  } catch (err) {
    throw new ConfigError(`cannot read ${wasmPath}: ${errorMessage(err)}`);
  }
  const manifest =
    readManifestFile(wasmPath, sha256Hex(bytes), loaded.values.manifest as string | undefined) ??
    manifestFor(bytes, { name: basename(wasmPath, '.wasm').replace(/[^A-Za-z0-9._-]/g, '-') || 'step', version: '0.0.0-local' });
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
