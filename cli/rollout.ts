import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineCommand, defineGroup } from '../shared/command.js';
import { opt } from '../shared/config.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { TERMINAL_STATES, type RolloutRequest, type RolloutStatus } from '../shared/rollout.js';
import { ApiClient } from './api-client.js';
import { apiOptions } from './api-options.js';

const json = { schema: opt.bool, flag: true, description: 'print JSON' } as const;

const start = defineCommand(
  {
    command: 'rollout start',
    summary: 'start a staged rollout of a spec, a step version or an agent release over the devices a selector matches; prints its id',
    usage:
      "flotilla rollout start (--spec FILE | --step NAME@VERSION | --agent VERSION) --select SELECTOR [--canary N|N%] [--waves P1,P2,...] [--soak DURATION] [--max-failures N|N%] [--max-restarts N] [--window 'CRON DURATION [TZ]']... [--offline-timeout DURATION] [--json]",
    options: {
      spec: { schema: opt.string, description: 'a supervisor spec (JSON file) every selected device gets' },
      step: { schema: opt.string, description: 'a step bump: every child running NAME@* gets NAME@VERSION' },
      agent: { schema: opt.string, description: 'an agent release: every device updates itself to the release VERSION of its own target (flotilla agent-release push)' },
      select: { schema: opt.string, required: true, description: 'which devices (label selector: site=paris,arch in (arm64,arm),cluster=root/eu/**)' },
      canary: { schema: opt.string, description: 'canary size, N devices or N% (default 1)' },
      waves: { schema: opt.string, description: 'cumulative wave sizes in % (default 10%,50%,100%)' },
      soak: { schema: opt.string, description: 'how long a device must stay healthy after it applied (default 60s)' },
      'max-failures': { schema: opt.string, description: 'failed devices a wave may have, N or N% (default 0)' },
      'max-restarts': { schema: z.coerce.number().int().nonnegative(), description: 'restarts a device may have during its soak (default 0)' },
      window: { schema: z.array(z.string()), multiple: true, description: "waves start only inside these windows: 'CRON DURATION [TZ]'" },
      'offline-timeout': { schema: opt.string, description: 'after this long offline a device counts as skipped (default 1h)' },
      'apply-timeout': { schema: opt.string, description: 'how long after its soak a device may take to run the change with every child running (default 2m)' },
      'rollback-scope': { schema: z.enum(['failed', 'wave']), description: 'at a failed gate roll back the failed devices (default) or the whole wave' },
      json,
      ...apiOptions,
    },
  },
  async (v) => {
    if ([v.spec, v.step, v.agent].filter((c) => c !== undefined).length !== 1) throw new ConfigError('expected exactly one of --spec, --step and --agent');
    const request: RolloutRequest = {
      selector: v.select,
      change: v.agent !== undefined ? { agent: v.agent } : v.step !== undefined ? { step: v.step } : { spec: readSpec(v.spec!) },
      ...(v.canary !== undefined && { canary: v.canary }),
      ...(v.waves !== undefined && { waves: v.waves }),
      ...(v.soak !== undefined && { soak: v.soak }),
      ...(v['max-failures'] !== undefined && { maxFailures: v['max-failures'] }),
      ...(v['max-restarts'] !== undefined && { maxRestarts: v['max-restarts'] }),
      ...(v.window !== undefined && { windows: v.window }),
      ...(v['offline-timeout'] !== undefined && { offlineTimeout: v['offline-timeout'] }),
      ...(v['apply-timeout'] !== undefined && { applyTimeout: v['apply-timeout'] }),
      ...(v['rollback-scope'] !== undefined && { rollbackScope: v['rollback-scope'] }),
    };
    const { id } = await new ApiClient(v.api, v['api-token']).startRollout(request);
    console.log(v.json ? JSON.stringify({ id }) : id);
    return 0;
  },
);

function readSpec(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`--spec: ${file}: ${errorMessage(err)}`);
  }
}

const status = defineCommand(
  {
    command: 'rollout status',
    summary: 'waves with progress bars, failing devices and reasons (--watch: until it ends)',
    usage: 'flotilla rollout status ID [--watch] [--json]',
    argument: 'ID',
    options: { watch: { schema: opt.bool, flag: true, description: 'print again on every change, until the rollout ends' }, json, ...apiOptions },
  },
  async (v, { argument: id }) => {
    const api = new ApiClient(v.api, v['api-token']);
    let last = '';
    for (;;) {
      const s = await api.rollout(id);
      const text = v.json ? JSON.stringify(s) : formatStatus(s);
      if (text !== last) console.log(text);
      last = text;
      // --watch ends with the rollout: exit 0 only if it succeeded.
      if (!v.watch) return 0;
      if (TERMINAL_STATES.includes(s.state)) return s.state === 'succeeded' ? 0 : 1;
      await new Promise((r) => setTimeout(r, 500));
    }
  },
);

const list = defineCommand(
  { command: 'rollout list', summary: 'the rollouts of a coordinator, newest first', options: { json, ...apiOptions } },
  async (v) => {
    const { rollouts } = await new ApiClient(v.api, v['api-token']).rollouts();
    if (v.json) console.log(JSON.stringify(rollouts));
    else console.log(rollouts.length ? rollouts.map((r) => `${r.id}  ${r.state.padEnd(11)}  ${r.reason ?? ''}`).join('\n') : 'no rollouts');
    return 0;
  },
);

const lifecycle = (command: 'pause' | 'resume' | 'abort' | 'rollback', summary: string) =>
  defineCommand({ command: `rollout ${command}`, summary, argument: 'ID', options: { json, ...apiOptions } }, async (v, { argument: id }) => {
    const s = await new ApiClient(v.api, v['api-token']).rolloutCommand(id, command);
    console.log(v.json ? JSON.stringify(s) : `${s.id}: ${s.state}${s.reason ? ` (${s.reason})` : ''}`);
    return 0;
  });

export const rolloutCommand = defineGroup('rollout', 'staged rollouts: canary, waves, health gates, automatic rollback, windows', [
  start,
  status,
  list,
  lifecycle('pause', 'stop starting devices; those in flight finish'),
  lifecycle('resume', 'continue a paused rollout'),
  lifecycle('abort', 'end the rollout; devices keep what they run'),
  lifecycle('rollback', 'return every device the rollout touched to its previous desired state'),
]);

const BAR = 20;

/** The human status: state and reason, one progress bar per wave, then the devices that did not make it. */
export function formatStatus(s: RolloutStatus): string {
  const lines = [`rollout ${s.id}: ${s.state}${s.reason ? ` — ${s.reason}` : ''}`];
  for (const w of s.waves) {
    const done = w.devices ? Math.round(((w.passed + w.failed) / w.devices) * BAR) : BAR;
    const failedPart = w.devices ? Math.round((w.failed / w.devices) * BAR) : 0;
    const bar = '#'.repeat(Math.max(0, done - failedPart)) + 'x'.repeat(failedPart) + '.'.repeat(Math.max(0, BAR - done));
    lines.push(`  ${(w.index === 0 ? 'canary' : `wave ${w.index}`).padEnd(8)} [${bar}] ${w.passed}/${w.devices} healthy, ${w.failed} failed  (${w.state})`);
  }
  const trouble = s.devices.filter((d) => d.state === 'failed' || d.state === 'rolled_back' || d.state === 'skipped');
  if (trouble.length) {
    lines.push('  devices:');
    for (const d of trouble) lines.push(`    ${d.id}  ${d.state}${d.reason ? `: ${d.reason}` : ''}`);
  }
  return lines.join('\n');
}
