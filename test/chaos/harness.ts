import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';

/** A free TCP port on 127.0.0.1, for a process that must come back on the same port after SIGKILL. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A coordinator process on fixed ports and a data dir it keeps across kills. */
export class CoordinatorProcess {
  proc: FlotillaProcess | undefined;
  readonly lines: string[] = [];

  constructor(
    readonly dataDir: string,
    readonly mqttPort: number,
    readonly httpPort: number,
    private readonly args: string[],
  ) {}

  static async create(dataDir: string, tokens: Record<string, string>, args: string[] = []): Promise<CoordinatorProcess> {
    const tokensFile = join(dataDir, '..', `${dataDir.split('/').pop()}-tokens.json`);
    writeFileSync(tokensFile, JSON.stringify(tokens));
    return new CoordinatorProcess(dataDir, await freePort(), await freePort(), ['--tokens-file', tokensFile, ...args]);
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  async start(): Promise<void> {
    this.proc = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', String(this.mqttPort), '--http-port', String(this.httpPort), '--data-dir', this.dataDir, ...this.args], {
      stderr: (l) => this.lines.push(l),
    });
    await this.proc.waitFor('listening', 30_000);
  }

  async kill(): Promise<void> {
    this.proc?.child.kill('SIGKILL');
    await this.proc?.exited;
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

/** test/chaos/driver.mjs as a child process: a numbered QoS 1 stream through the agent's real link. */
export class Driver {
  child: ChildProcess | undefined;
  allPublished = false;

  constructor(private readonly argv: string[]) {}

  start(): Promise<void> {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'driver.mjs'), ...this.argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    const started = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('"started"')) resolve();
        if (line.includes('"all-published"')) this.allPublished = true;
      });
    });
    return started;
  }

  async kill(): Promise<void> {
    const exited = new Promise((r) => this.child?.once('exit', r));
    this.child?.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child?.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** What arrived of a numbered stream 0..count-1. */
export class Tally {
  private readonly seen = new Set<number>();
  received = 0;

  add(n: number): void {
    this.received++;
    this.seen.add(n);
  }

  complete(count: number): boolean {
    return this.seen.size >= count;
  }

  summary(name: string, count: number, kills: number): { lost: number; duplicates: number; line: string } {
    const missing = Array.from({ length: count }, (_, i) => i).filter((n) => !this.seen.has(n));
    const duplicates = this.received - this.seen.size;
    const which = missing.length ? ` (missing: ${ranges(missing)})` : '';
    return { lost: missing.length, duplicates, line: `chaos ${name}: ${count} messages sent, ${kills} SIGKILLs, ${missing.length} lost${which}, ${duplicates} duplicates` };
  }
}

/** `n` kill times at random in `[fromMs, toMs]`, ascending; printed, so a failing run can be read back. */
export function killTimes(n: number, fromMs: number, toMs: number): number[] {
  const times = Array.from({ length: n }, () => fromMs + Math.random() * (toMs - fromMs)).sort((a, b) => a - b);
  console.log(`kill times: ${times.map((t) => Math.round(t)).join(', ')} ms`);
  return times;
}

/** `[1, 2, 3, 7]` as `1-3, 7`. */
function ranges(ns: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length; i++) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j] + 1) j++;
    out.push(i === j ? String(ns[i]) : `${ns[i]}-${ns[j]}`);
    i = j;
  }
  return out.join(', ');
}
