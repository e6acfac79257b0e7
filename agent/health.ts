import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { HealthMessage } from '../shared/messages.js';
import { FLOTILLA_VERSION } from '../shared/version.js';

/** What the rest of the agent (supervision, step store) adds to each health report. */
export type HealthContribution = Partial<Pick<HealthMessage, 'children' | 'steps' | 'rates' | 'restartsTotal' | 'spool' | 'revision' | 'rolledBack' | 'logsDropped' | 'revokedSteps' | 'agentVersion' | 'agentUpdate'>>;

export interface HealthInputs {
  seq: number;
  intervalS: number;
  target: string;
  dataDir: string;
  invalidMessages: number;
  contributions: HealthContribution[];
}

/**
 * Calls `tick` every `periodMs` until the returned function is called: a period, not a cron expression, so any
 * whole number of seconds works (a seconds cron field can only express divisors of 60).
 */
export function everyPeriod(periodMs: number, tick: () => void): () => void {
  const timer = setInterval(tick, periodMs);
  return () => clearInterval(timer);
}

/** The firmware build sets FLOTILLA_TARGET (e.g. `linux-arm64`); a source checkout reports `node-<platform>-<arch>`. */
export function targetName(): string {
  return process.env.FLOTILLA_TARGET || `node-${process.platform}-${process.arch}`;
}

export async function collectHealth(inputs: HealthInputs): Promise<HealthMessage> {
  const mem = process.memoryUsage();
  const load = loadavg();
  const base: HealthMessage = {
    ts: Date.now(),
    seq: inputs.seq,
    intervalS: inputs.intervalS,
    agentVersion: FLOTILLA_VERSION,
    target: inputs.target,
    arch: process.arch,
    platform: process.platform,
    nodeVersion: process.versions.node,
    uptimeS: Math.round(process.uptime()),
    memory: { rss: mem.rss || procRss(), heapUsed: mem.heapUsed, heapTotal: mem.heapTotal },
    load: [load[0], load[1], load[2]],
    diskFreeBytes: await diskFree(inputs.dataDir),
    invalidMessages: inputs.invalidMessages,
    children: [],
    steps: [],
    rates: { in: 0, out: 0 },
    restartsTotal: 0,
    logsDropped: 0,
  };
  return Object.assign(base, ...inputs.contributions);
}

/**
 * Resident set size from /proc/self/status (`VmRSS: N kB`, no page size to guess): Node reports rss 0 where libuv
 * cannot read /proc/self/stat, as under qemu-user. 0 if that fails too.
 */
export function procRss(read: () => string = () => readFileSync('/proc/self/status', 'utf8')): number {
  try {
    return parseVmRss(read()) ?? 0;
  } catch {
    return 0;
  }
}

/** Bytes of the `VmRSS:` line of a /proc/<pid>/status text, or undefined without one. */
export function parseVmRss(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

async function diskFree(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
