import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { StepRuntime, type ExitReason } from '../agent/runtime/index.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { isNormalExit } from '../shared/step-abi.js';
import { opt } from '../shared/config.js';
import { defineCommand, defineGroup } from '../shared/command.js';
import { manifestFor, sha256Hex } from '../shared/step-manifest.js';
import { buildStep } from './step-build.js';
import { stepPushCommand } from './step-push.js';
import { stepSignCommand } from './step-sign.js';
import { readManifestFile } from './step-manifest-file.js';

const stepBuildCommand = defineCommand(
  {
    command: 'step build',
    summary: 'compile the AssemblyScript step in DIR (step.json + index.ts) to <out>/<name>.wasm and <out>/<name>.manifest.json (sha256, ABI version, limits)',
    usage: 'flotilla step build DIR [--out DIR]',
    argument: 'DIR',
    options: { out: { schema: opt.string, description: 'output directory (default: DIR/build)' } },
  },
  async (v, { argument: dir }) => {
    const built = await buildStep(dir, v.out);
    console.log(`${built.wasmPath} (${built.manifest.name}@${built.manifest.version}, sha256 ${built.manifest.sha256})`);
    return 0;
  },
);

const stepRunCommand = defineCommand(
  {
    command: 'step run',
    summary: "run the step on newline-separated stdin through the agent's runtime, printing each output message on its own line",
    usage: 'flotilla step run FILE.wasm [--config JSON] [--manifest FILE]',
    details: [
      'One input message per line; logs go to stderr. The manifest defaults to FILE.manifest.json beside the module,',
      'or default limits when there is none. Exit code: 0 when the step ends normally, 1 with the exit reason on stderr otherwise.',
    ].join('\n'),
    argument: 'FILE.wasm',
    configFile: false,
    options: {
      config: { schema: opt.string, description: "the step's config, JSON" },
      manifest: { schema: opt.string, description: 'manifest file (default: FILE.manifest.json beside the module)' },
    },
  },
  async (v, { argument }) => runStep(argument, v.config, v.manifest),
);

async function runStep(wasmPath: string, config: string | undefined, manifestFile: string | undefined): Promise<number> {
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
    readManifestFile(wasmPath, sha256Hex(bytes), manifestFile) ??
    manifestFor(bytes, { name: basename(wasmPath, '.wasm').replace(/[^A-Za-z0-9._-]/g, '-') || 'step', version: '0.0.0-local' });
  const runtime = new StepRuntime();
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

export const stepCommand = defineGroup('step', 'build a step (AssemblyScript -> .wasm + manifest), run one locally on stdin lines, sign one, or push one to a coordinator', [
  stepBuildCommand,
  stepRunCommand,
  stepSignCommand,
  stepPushCommand,
]);
