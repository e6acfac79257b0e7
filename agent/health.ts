import { statfs } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { HealthMessage } from '../shared/messages.js';
import { FLOTILLA_VERSION } from '../shared/version.js';

/** What the rest of the agent (supervision, step store) adds to each health report. */
export type HealthContribution = Partial<Pick<HealthMessage, 'children' | 'steps' | 'rates' | 'restartsTotal' | 'spool' | 'revision' | 'rolledBack' | 'logsDropped'>>;

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
    memory: { rss: mem.rss, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal },
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

async function diskFree(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}
