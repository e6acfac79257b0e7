import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import type { ExitReason, LoadedStep, StartOptions, StepHandle, StepLogLevel, StepRuntime } from '../../agent/runtime/index.js';
import { manifestFor } from '../../shared/step-manifest.js';
import type { StepLimits } from '../../shared/step-manifest.js';

const wabt = await wabtInit();
const FIXTURES = join(import.meta.dirname, '../fixtures/wat');

export function compileWat(name: string, text: string): Uint8Array {
  const parsed = wabt.parseWat(`${name}.wat`, text);
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

/** Compiles test/fixtures/wat/<name>.wat with wabt; `edit` rewrites the text first (to derive a variant). */
export function wat(name: string, edit: (text: string) => string = (t) => t): Uint8Array {
  return compileWat(name, edit(readFileSync(join(FIXTURES, `${name}.wat`), 'utf8')));
}

export function loadBytes(runtime: StepRuntime, bytes: Uint8Array, limits: Partial<StepLimits> = {}, name = 'test'): Promise<LoadedStep> {
  return runtime.load(bytes, manifestFor(bytes, { name, version: '1.0.0', limits }));
}

export function loadWat(runtime: StepRuntime, name: string, limits: Partial<StepLimits> = {}): Promise<LoadedStep> {
  return loadBytes(runtime, wat(name), limits, name);
}

/** A started step whose outputs, logs and exit are recorded; `outputs(n)` resolves once n outputs arrived. */
export interface Recorded {
  handle: StepHandle;
  out: Uint8Array[];
  logs: [StepLogLevel, string][];
  exit: Promise<ExitReason>;
  outputs(n: number): Promise<Uint8Array[]>;
  text(): string[];
}

export async function startRecorded(runtime: StepRuntime, step: LoadedStep, extra: Partial<StartOptions> = {}): Promise<Recorded> {
  const out: Uint8Array[] = [];
  const logs: [StepLogLevel, string][] = [];
  let waiter: { n: number; resolve(): void } | undefined;
  let onExit!: (r: ExitReason) => void;
  const exit = new Promise<ExitReason>((resolve) => (onExit = resolve));
  const handle = await runtime.start({
    id: step.manifest.name,
    step,
    onOutput(payload) {
      out.push(payload);
      if (waiter && out.length >= waiter.n) waiter.resolve();
    },
    onLog: (level, message) => logs.push([level, message]),
    onExit,
    ...extra,
  });
  return {
    handle,
    out,
    logs,
    exit,
    outputs: (n) =>
      out.length >= n
        ? Promise.resolve(out)
        : Promise.race([
            new Promise<Uint8Array[]>((resolve) => (waiter = { n, resolve: () => resolve(out) })),
            exit.then((r) => Promise.reject(new Error(`step exited (${r}) after ${out.length} of ${n} outputs`))),
          ]),
    text: () => out.map((b) => Buffer.from(b).toString('utf8')),
  };
}

export const bytes = (text: string) => new TextEncoder().encode(text);
