import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineCommand } from '../shared/command.js';
import { untilSignal } from '../shared/signals.js';
import { ApiClient } from './api-client.js';
import { exampleStep } from './example-steps.js';
import { spawnFlotilla, type FlotillaProcess } from './processes.js';

const CLUSTERS = ['paris', 'berlin'];
const STEPS = ['synthetic-sensor', 'moving-average', 'threshold-alarm'];
/** The step version the demo offers for a rollout (the README's "try" line). */
export const ROLLOUT_STEP = { name: 'moving-average', version: '1.1.0' };

/**
 * What every demo agent runs: a sensor simulator ticked every second, its moving average, and an alarm on the
 * average (flotilla/d/<id>/out/alarms). rest_for_one: if the sensor dies, the steps fed by it restart after it.
 */
export const DEMO_TREE = {
  id: 'pipeline',
  strategy: 'rest_for_one',
  intensity: 3,
  period: 10,
  children: [
    { id: 'sensor', step: 'synthetic-sensor@1.0.0', input: { cron: '* * * * * *' }, config: { field: 'temp', base: 20, amplitude: 8, period: 30 } },
    { id: 'average', step: 'moving-average@1.0.0', input: { from: 'sensor' }, output: 'temp/avg', config: { field: 'temp', window: 5 } },
    { id: 'alarm', step: 'threshold-alarm@1.0.0', input: { from: 'average' }, output: 'alarms', config: { field: 'avg', threshold: 25, hysteresis: 1 } },
  ],
};

export const demoCommand = defineCommand(
  {
    command: 'demo',
    summary: 'run a local federated fleet on 127.0.0.1 (root + 2 clusters + agents, real processes) running a sample step tree',
    options: {
      agents: { schema: z.coerce.number().int().min(1).max(20), default: 2, description: 'agents per cluster' },
      'data-dir': { schema: z.string().min(1), description: 'keep state here instead of a temporary directory' },
    },
  },
  async (v) => {
    // Listen for Ctrl-C from the start: an interrupted start-up still stops every process it began.
    const interrupted = untilSignal();
    const dir = v['data-dir'] ?? mkdtempSync(join(tmpdir(), 'flotilla-demo-'));
    // By tier: the root, the cluster coordinators, the agents.
    const tiers: FlotillaProcess[][] = [[], [], []];
    const procs = () => tiers.flat();
    const spawn = (tier: Tier, args: string[]) => {
      const p = spawnFlotilla([...args, '--log-level', 'warn']);
      tiers[tier].push(p);
      return p;
    };
    try {
      const started = await Promise.race([startFleet(v.agents, dir, spawn), interrupted]);
      if (typeof started === 'string') return 0;
      const { api, apiToken, devices } = started;
      console.log(JSON.stringify({ event: 'demo-ready', dashboard: `${api}/`, api, apiToken, clusters: CLUSTERS.map((c) => `root/${c}`), devices, pids: procs().map((p) => p.child.pid) }));
      console.log(
        [
          '',
          `Flotilla demo is running (state in ${dir}):`,
          `  root coordinator with clusters ${CLUSTERS.join(' and ')} below it, ${v.agents} agents each, all real processes;`,
          `  every agent runs the step tree sensor -> moving-average -> threshold-alarm (${STEPS.join(', ')}).`,
          '',
          `  Dashboard: ${api}/   (log in with the API token)`,
          `  API token: ${apiToken}`,
          `  HTTP API:  ${api}/api/v1/devices`,
          `  Devices:   npx flotilla devices --api ${api} --api-token ${apiToken}`,
          `  Try:       npx flotilla logs ${devices[0]} --follow --api ${api} --api-token ${apiToken}   (its steps' warnings and errors)`,
          `  Roll out:  npx flotilla rollout start --step ${ROLLOUT_STEP.name}@${ROLLOUT_STEP.version} --select 'cluster=root/**' --canary 1 --waves 50%,100% --soak 5s --api ${api} --api-token ${apiToken}`,
          `             then: npx flotilla rollout list --api ${api} --api-token ${apiToken}   (or the dashboard's Rollouts page)`,
          '',
          'Press Ctrl-C to stop.',
        ].join('\n'),
      );
      const ended = await Promise.race([interrupted, ...procs().map((p) => p.exited.then(() => p))]);
      if (typeof ended === 'string') return 0;
      console.error(`flotilla demo: a process (pid ${ended.child.pid}) exited unexpectedly; stopping`);
      return 1;
    } finally {
      // Agents first, then cluster coordinators, then the root: nothing reports into a coordinator already gone.
      for (const tier of tiers.reverse()) await Promise.all(tier.map((p) => p.stop()));
      if (!v['data-dir']) rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** Root, clusters and agents up, example steps pushed, the tree applied to all devices and running everywhere. */
type Tier = 0 | 1 | 2;

async function startFleet(agentsPerCluster: number, dir: string, spawn: (tier: Tier, args: string[]) => FlotillaProcess) {
  // Tokens may begin with '-': passed as --token=T so they are never taken for an option.
  const apiToken = randomBytes(12).toString('hex');
  const coordinator = (cluster: string, extra: string[] = []) =>
    spawn(cluster === 'root' ? 0 : 1, ['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', join(dir, cluster), '--cluster', cluster, `--api-token=${apiToken}`, ...extra]);
  const listening = async (p: FlotillaProcess) => (await p.waitFor('listening')) as { mqtt: number; http: number };

  // Steps build (or come from .cache/) while the processes start.
  const built = Promise.all(STEPS.map((name) => exampleStep(name)));
  const root = await listening(coordinator('root'));
  const api = `http://127.0.0.1:${root.http}`;
  const rootApi = new ApiClient(api, apiToken);
  const devices: string[] = [];
  await Promise.all(
    CLUSTERS.map(async (name) => {
      const { token } = await rootApi.enrollCluster(name);
      const child = await listening(coordinator(name, ['--parent', `mqtt://127.0.0.1:${root.mqtt}`, `--token=${token}`]));
      const childApi = new ApiClient(`http://127.0.0.1:${child.http}`, apiToken);
      const agents: FlotillaProcess[] = [];
      for (let i = 1; i <= agentsPerCluster; i++) {
        const id = `${name}-${i}`;
        const { token: deviceToken } = await childApi.enroll(id);
        agents.push(spawn(2, ['agent', '--coordinator', `mqtt://127.0.0.1:${child.mqtt}`, '--id', id, `--token=${deviceToken}`, '--data-dir', join(dir, name, id), '--health-interval', '5']));
        devices.push(`${name}/${id}`);
      }
      await Promise.all(agents.map((a) => a.waitFor('joined')));
    }),
  );
  for (const { bytes, manifest } of await built) {
    const push = (version: string) => rootApi.pushStep({ name: manifest.name, version, sha256: manifest.sha256, module: Buffer.from(bytes).toString('base64'), limits: manifest.limits });
    await push(manifest.version);
    // The same module again as the next version: something to watch a staged rollout with (README, "While it runs").
    if (manifest.name === ROLLOUT_STEP.name) await push(ROLLOUT_STEP.version);
  }
  await untilRoot(rootApi, (list) => devices.every((id) => list.some((d) => d.id === id)), 'every agent known at the root');
  const applied = await rootApi.applyDesired({ all: true }, DEMO_TREE);
  const failed = Object.entries(applied.errors);
  if (failed.length || applied.unreachable.length) throw new Error(`applying the demo tree failed: ${JSON.stringify({ errors: applied.errors, unreachable: applied.unreachable })}`);
  const workers = DEMO_TREE.children.length;
  await untilRoot(rootApi, (list) => devices.every((id) => list.find((d) => d.id === id)?.children.running === workers), 'the step tree running on every agent');
  return { api, apiToken, devices: devices.sort() };
}

/** Re-read the root's device list until `ok` holds (a start-up milestone), for at most 20 s. */
async function untilRoot(api: ApiClient, ok: (devices: Awaited<ReturnType<ApiClient['devices']>>['devices']) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok((await api.devices()).devices)) {
    if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
