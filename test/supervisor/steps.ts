import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { StepRuntime, type LoadedStep } from '../../agent/runtime/index.js';
import { SupervisorRunner, type RunnerOptions } from '../../agent/supervisor/index.js';
import type { LoggedEvent } from '../../agent/supervisor/event-log.js';
import { manifestFor, type StepLimits } from '../../shared/step-manifest.js';
import { parseSupervisorSpec } from '../../shared/supervisor-spec.js';

const wabt = await wabtInit();
const FIXTURES = join(import.meta.dirname, '../fixtures/wat');

function compile(name: string, edit: (text: string) => string = (t) => t): Uint8Array {
  const parsed = wabt.parseWat(`${name}.wat`, edit(readFileSync(join(FIXTURES, `${name}.wat`), 'utf8')));
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

/**
 * Real steps for the runner, by reference: `crashy@1` (test/fixtures/wat/supervised-crashy.wat: traps on `crash`,
 * exits normally on `stop`, loops on `hang`, echoes the rest), `crashy@2` (another module: the same, but it prefixes
 * what it echoes with "2", so a swap shows in the outputs), `slow@1` (crashy with a 60 s time budget, so `hang` holds
 * until killed) and `broken@1` (init fails).
 */
export async function loadSteps(runtime: StepRuntime): Promise<(ref: string) => Promise<LoadedStep>> {
  const crashy = compile('supervised-crashy');
  // The payload sits at 1024 (alloc's answer): write "2" just before it and emit from there.
  const crashy2 = compile('supervised-crashy', (t) =>
    t.replace(
      '(call $emit (local.get $ptr) (local.get $len))',
      '(i32.store8 (i32.sub (local.get $ptr) (i32.const 1)) (i32.const 50)) (call $emit (i32.sub (local.get $ptr) (i32.const 1)) (i32.add (local.get $len) (i32.const 1)))',
    ),
  );
  const load = (bytes: Uint8Array, name: string, version: string, limits: Partial<StepLimits> = {}) =>
    runtime.load(bytes, manifestFor(bytes, { name, version, limits }));
  const steps = new Map<string, LoadedStep>([
    ['crashy@1', await load(crashy, 'crashy', '1', { timeBudgetMs: 300 })],
    ['crashy@2', await load(crashy2, 'crashy', '2', { timeBudgetMs: 300 })],
    ['slow@1', await load(crashy, 'slow', '1', { timeBudgetMs: 60_000 })],
    ['broken@1', await load(compile('init-fails'), 'broken', '1')],
  ]);
  return async (ref) => {
    const step = steps.get(ref);
    if (!step) throw new Error(`no step ${ref}`);
    return step;
  };
}

/** A runner over real isolates whose events and outputs are recorded; `waitFor` resolves on a matching event. */
export class Observed {
  readonly events: LoggedEvent[] = [];
  readonly outputs: { path: string; topic: string; text: string }[] = [];
  readonly runner: SupervisorRunner;
  private readonly waiters = new Set<() => boolean>();

  constructor(spec: unknown, resolveStep: RunnerOptions['resolveStep'], runtime: StepRuntime, extra: Partial<RunnerOptions> = {}) {
    this.runner = new SupervisorRunner(parseSupervisorSpec(spec), {
      runtime,
      resolveStep,
      onEvent: (entry) => {
        this.events.push(entry);
        this.check();
      },
      onOutput: (path, topic, payload) => {
        this.outputs.push({ path, topic, text: Buffer.from(payload).toString('utf8') });
        this.check();
      },
      ...extra,
    });
  }

  /** Event lines like the core tests use: `child_terminated root a trap:...`. */
  lines(): string[] {
    return this.events.map(({ event: e }) =>
      [e.type, e.supervisor, 'child' in e ? e.child : '', 'reason' in e ? e.reason : ''].filter(Boolean).join(' '),
    );
  }

  /** Resolves once `predicate` holds (checked now and after every event or output). */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; events: ${this.lines().join(' | ')}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.waiters.add(check);
    });
  }

  /** Resolves when an event line matching `pattern` appears after the first `after` events. */
  event(pattern: RegExp, after = 0): Promise<void> {
    return this.waitFor(() => this.lines().slice(after).some((l) => pattern.test(l)), `event ${pattern}`);
  }

  texts(path: string): string[] {
    return this.outputs.filter((o) => o.path === path).map((o) => o.text);
  }

  private check(): void {
    for (const w of this.waiters) if (w()) this.waiters.delete(w);
  }
}

export const bytes = (text: string) => new TextEncoder().encode(text);
