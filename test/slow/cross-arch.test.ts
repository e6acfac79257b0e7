import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { buildStep, type BuiltStep } from '../../cli/step-build.js';
import { OUT_ROOT, TARGETS_DIR } from '../../firmware-targets/build.js';
import { loadTargets, type TargetDescriptor } from '../../firmware-targets/descriptor.js';
import { artifactLayout, launchCommand } from '../../firmware-targets/launch.js';
import { idleRss } from '../../bench/proc-rss.js';
import { eventually, tempDir } from '../helpers/cluster.js';

// The emulated cross-architecture proof (issue 6): the artifacts `npm run build:targets` made, started under
// qemu-user (or natively), join one coordinator and report the architecture they really run on, and compute
// byte-identical outputs from the same Wasm step on the same input.
const targets = loadTargets(TARGETS_DIR);

/** Run an artifact to completion with `input` on stdin; resolves with its exit code, stdout and stderr. */
function runArtifact(t: TargetDescriptor, args: string[], input: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const [cmd, ...rest] = launchCommand(t, OUT_ROOT, arch(), args);
  const child = spawn(cmd, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  child.stdin.end(input);
  // A hung artifact fails its own check within minutes instead of stalling the suite until its timeout.
  const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() + (signal ? `\n(killed by ${signal} after 180 s)` : '') });
    });
  });
}

function startArtifact(t: TargetDescriptor, args: string[], lines: string[]): FlotillaProcess {
  return spawnFlotilla(args, { command: launchCommand(t, OUT_ROOT, arch(), []), stderr: (l) => lines.push(l) });
}

const EMULATED_BUDGET_MS = 20_000;

describe('firmware artifacts under emulation', () => {
  const dir = tempDir('flotilla-cross-arch-');
  let coordinator: FlotillaProcess;
  let api: ApiClient;
  let mqttUrl: string;
  const agents: FlotillaProcess[] = [];
  const agentOf = new Map<string, FlotillaProcess>();
  // moving-average does f64 arithmetic and float-to-text formatting: the part most likely to differ by CPU.
  let step: BuiltStep;
  const config = { field: 'temp', window: 7 };
  const inputs = Array.from({ length: 500 }, (_, i) => JSON.stringify({ temp: ((i * 37) % 101) / 7 - 3, i }));
  const zeros = Array.from({ length: config.window }, () => '{"temp":0}');
  /** The outputs of `step run` on the native artifact for `inputs` (after `zeros`), one line each. */
  let reference: Buffer;

  beforeAll(async () => {
    for (const t of targets) {
      if (!existsSync(artifactLayout(t, OUT_ROOT).executable)) throw new Error(`${t.name} is not built: run npm run build:targets`);
    }
    coordinator = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', `${dir.path}/coordinator`], { stderr: 'ignore' });
    const listening = await coordinator.waitFor('listening');
    mqttUrl = `mqtt://127.0.0.1:${listening.mqtt}`;
    api = new ApiClient(`http://127.0.0.1:${listening.http}`);
    const built = await buildStep('examples/steps/moving-average', `${dir.path}/step`);
    // Under qemu-user a step runs 10-50x slower than natively (five emulated agents share two cores here): the
    // budget below is the emulator's, not the step's. The manifest's digest covers the module, not its limits.
    const manifest = { ...built.manifest, limits: { ...built.manifest.limits, timeBudgetMs: EMULATED_BUDGET_MS } };
    writeFileSync(built.manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    step = { ...built, manifest };
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await coordinator?.stop();
    dir.cleanup();
  });

  it('every target joins and reports its real process.arch and its target name', async () => {
    const logs = new Map<string, string[]>();
    const joins = targets.map(async (t) => {
      const id = `dev-${t.name}`;
      const { token } = await api.enroll(id);
      const lines: string[] = [];
      logs.set(t.name, lines);
      const agent = startArtifact(t, ['--coordinator', mqttUrl, '--id', id, `--token=${token}`, '--data-dir', `${dir.path}/${id}`, '--health-interval', '1'], lines);
      agents.push(agent);
      agentOf.set(t.name, agent);
      // Start-up under qemu takes seconds; wait on the milestone, not a clock.
      return { t, joined: await agent.waitFor('joined', 120_000).catch((err) => Promise.reject(new Error(`${t.name}: ${err.message}\n${lines.join('\n')}`))) };
    });
    for (const { t, joined } of await Promise.all(joins)) {
      expect(joined, t.name).toMatchObject({ id: `dev-${t.name}`, arch: t.arch, target: t.name });
    }
    // The coordinator sees the same through health: which build runs on which architecture.
    const devices = await eventually(async () => {
      const { devices } = await api.devices();
      return devices.length === targets.length && devices.every((d) => d.online && d.arch) && devices;
    }, 60_000, 'health from every target');
    expect(Object.fromEntries(devices.map((d) => [d.id, [d.arch, d.target]]))).toEqual(Object.fromEntries(targets.map((t) => [`dev-${t.name}`, [t.arch, t.name]])));
  });

  it('every architecture computes byte-identical outputs from the same Wasm step and input (step run)', async () => {
    const args = ['step', 'run', step.wasmPath, '--config', JSON.stringify(config)];
    // A window of zeros first, as the fleet check below starts from one.
    const stdin = [...zeros, ...inputs].join('\n') + '\n';
    const results = await Promise.all(targets.map(async (t) => ({ t, r: await runArtifact(t, args, stdin) })));
    const native = results.find(({ t }) => t.arch === arch())!.r;
    expect(native.code, native.stderr).toBe(0);
    const lines = native.stdout.toString().trim().split('\n');
    expect(lines).toHaveLength(zeros.length + inputs.length);
    for (const { t, r } of results) {
      expect(r.code, `${t.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.equals(native.stdout), `${t.name} output differs from ${arch()}`).toBe(true);
    }
    reference = Buffer.from(lines.slice(zeros.length).join('\n') + '\n');
  });

  it('the joined agents run the step deployed through the coordinator on the same MQTT input, byte-identical', async () => {
    const { manifest } = step;
    await api.pushStep({ name: manifest.name, version: manifest.version, limits: manifest.limits, module: readFileSync(step.wasmPath).toString('base64') });
    const spec = { id: 'xarch', children: [{ id: 'avg', step: `${manifest.name}@${manifest.version}`, config, input: 'xarch/in', output: 'avg' }] };
    await api.applyDesired({ all: true }, spec);
    // The feeder is a device of its own (enrolled after the apply, so it runs nothing): devices may publish user
    // topics and read any device's out/.
    const { token } = await api.enroll('feeder');
    const feeder = await mqtt.connectAsync(mqttUrl, { clientId: 'feeder', username: 'feeder', password: token, reconnectPeriod: 0 });
    try {
      const outputs = new Map(targets.map((t) => [`dev-${t.name}`, [] as Buffer[]]));
      feeder.on('message', (topic, payload) => outputs.get(topic.split('/')[2])?.push(Buffer.from(payload)));
      await feeder.subscribeAsync('flotilla/d/+/out/avg', { qos: 1 });
      const send = (payload: string) => feeder.publishAsync('xarch/in', payload, { qos: 1 });
      // Until every agent's step answers, probe with zeros; then 7 more zeros: every window holds exactly 0 and
      // n = 7 whatever each agent saw, so the real inputs meet identical states.
      let lastProbe = 0;
      await eventually(async () => {
        if (Date.now() - lastProbe > 250) (lastProbe = Date.now()), await send('{"temp":0}');
        return [...outputs.values()].every((o) => o.length > 0);
      }, 180_000, 'the deployed step answering on every agent');
      for (const zero of zeros) await send(zero);
      for (const line of inputs) await send(line);
      // QoS 1 from one publisher keeps order per subscriber: the sentinel's output comes after all real outputs.
      await send(JSON.stringify({ temp: 1e12 }));
      const isSentinel = (b: Buffer) => (JSON.parse(b.toString()) as { avg: number }).avg > 1e10;
      await eventually(() => [...outputs.values()].every((o) => o.some(isSentinel)), 180_000, 'every agent processing all inputs');
      for (const [id, o] of outputs) {
        const end = o.findIndex(isSentinel);
        const real = Buffer.concat(o.slice(end - inputs.length, end).map((b) => Buffer.concat([b, Buffer.from('\n')])));
        expect(real.equals(reference), `${id}: fleet outputs differ from step run on ${arch()}`).toBe(true);
      }
    } finally {
      await feeder.endAsync();
    }
  });

  it('every target runs 10 steps in its step host; idle RSS per target, emulated ones beside native x64', async () => {
    const { manifest } = step;
    const children = Array.from({ length: 10 }, (_, i) => ({ id: `avg${i}`, step: `${manifest.name}@${manifest.version}`, config, input: 'xarch/idle' }));
    await api.applyDesired({ all: true }, { id: 'idle', children });
    await eventually(async () => {
      const { devices } = await api.devices();
      return targets.every((t) => devices.find((d) => d.id === `dev-${t.name}`)?.children.running === 10);
    }, 180_000, '10 steps running on every target');
    // Under qemu-user the process is the emulator: its RSS holds the guest's memory and qemu's translated code.
    const rows: string[] = [];
    for (const t of targets) {
      const m = await idleRss(agentOf.get(t.name)!.child.pid!);
      expect(m.total, t.name).toBeGreaterThan(0);
      rows.push(`| ${t.name} | ${t.arch === arch() ? 'native' : `qemu-user (${t.emulation?.qemu})`} | ${(m.total / 2 ** 20).toFixed(1)} | ${(m.anon / 2 ** 20).toFixed(1)} |`);
    }
    console.log(['Idle RSS with 10 moving-average steps, MB', '| target | runs | total | private |', '| --- | --- | ---: | ---: |', ...rows].join('\n'));
  });
});
