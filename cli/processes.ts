import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/**
 * The `flotilla` entry point of this installation (dist/cli/main.js). Tests import this module from source (.ts);
 * the processes they start still run the built CLI.
 */
export const FLOTILLA_MAIN = here.endsWith('.ts') ? join(dirname(here), '../dist/cli/main.js') : join(dirname(here), 'main.js');

export interface FlotillaProcess {
  child: ChildProcess;
  /** Resolves with the first stdout JSON line `{"event": name, ...}`; rejects if the process exits first. */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Run `flotilla <args>` as a child process. Its stdout JSON milestone lines are parsed; stderr (human logs) goes
 * to `stderr` (inherit by default, or a callback per line).
 */
export function spawnFlotilla(args: string[], opts: { env?: NodeJS.ProcessEnv; stderr?: 'inherit' | 'ignore' | ((line: string) => void); command?: string[] } = {}): FlotillaProcess {
  const [cmd, ...pre] = opts.command ?? [process.execPath, FLOTILLA_MAIN];
  const stderrMode = typeof opts.stderr === 'function' ? 'pipe' : (opts.stderr ?? 'inherit');
  const child = spawn(cmd, [...pre, ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', stderrMode] });
  if (typeof opts.stderr === 'function' && child.stderr) {
    const sink = opts.stderr;
    createInterface({ input: child.stderr }).on('line', sink);
  }
  const seen: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve(v: Record<string, unknown>): void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    seen.push(msg);
    for (const w of waiters.filter((w) => w.event === msg.event)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(msg);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    waitFor(event, timeoutMs = 20_000) {
      const already = seen.find((m) => m.event === event);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`flotilla ${args[0]}: no "${event}" within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ event, resolve: (v) => (clearTimeout(timer), resolve(v)) });
        exited.then((code) => (clearTimeout(timer), reject(new Error(`flotilla ${args[0]} exited with ${code} before "${event}"`))));
      });
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
