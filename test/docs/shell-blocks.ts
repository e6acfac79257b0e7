import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The ```sh blocks of a Markdown text under the heading `heading` (up to the next heading of any level). */
export function shellBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const rest = markdown.slice(start + heading.length + 1);
  const end = rest.search(/^#{1,6} /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** One line of a block: the command as written and its trailing comment (which says how the line behaves). */
export interface ShellLine {
  command: string;
  comment: string;
}

export function shellLines(block: string): ShellLine[] {
  return block
    .split('\n')
    .filter((l) => l.trim() && !l.trimStart().startsWith('#'))
    .map((l) => {
      const at = l.indexOf('  # ');
      return at < 0 ? { command: l.trim(), comment: '' } : { command: l.slice(0, at).trim(), comment: l.slice(at + 4).trim() };
    });
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A directory holding `name` → `node <script>` shims, to put first on PATH (how a reader's `npm link` resolves). */
export function shimDir(dir: string, shims: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, script] of Object.entries(shims)) {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
    chmodSync(path, 0o755);
  }
  return dir;
}

/** A shell line running as a reader runs it in a terminal: stdout kept line by line. */
export interface Running {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
  /** Resolves once a stdout line satisfies `match`; rejects if the process exits first. */
  until(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  /** SIGINT (Ctrl-C), then SIGKILL after 10 s. */
  interrupt(): Promise<number | null>;
}

export function runLine(command: string, opts: { cwd: string; env: NodeJS.ProcessEnv }): Running {
  // A simple command is `exec`ed so a signal reaches the program itself, as Ctrl-C in a terminal would; a list, a
  // pipeline (`a && b`, `a | b`) or a command with variable assignments (`X=1 cmd`) runs as bash runs it.
  const simple = !/[;&|]/.test(command.replaceAll(/'[^']*'/g, '')) && !/^\w+=/.test(command);
  const child = spawn('bash', ['-c', simple ? `exec ${command}` : command], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    stdout.push(l);
    for (const w of waiters) w();
  });
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout,
    stderr,
    exited,
    until(match, what, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = stdout.find(match);
          if (hit === undefined) return;
          cleanup();
          resolve(hit);
        };
        const timer = setTimeout(() => (cleanup(), reject(new Error(`${command}: no ${what} within ${timeoutMs} ms; stderr: ${stderr.slice(-5).join(' | ')}`))), timeoutMs);
        const cleanup = () => (clearTimeout(timer), waiters.delete(check));
        waiters.add(check);
        void exited.then((code) => (cleanup(), reject(new Error(`${command}: exited with ${code} before ${what}; stderr: ${stderr.slice(-5).join(' | ')}`))));
        check();
      });
    },
    async interrupt() {
      if (done) return exited;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
