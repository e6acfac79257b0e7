import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { buildStep } from '../../cli/step-build.js';
import { OUT_ROOT, TARGETS_DIR } from '../../firmware-targets/build.js';
import { loadTargets, type TargetDescriptor } from '../../firmware-targets/descriptor.js';
import { artifactLayout, launchCommand } from '../../firmware-targets/launch.js';
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

describe('firmware artifacts under emulation', () => {
  const dir = tempDir('flotilla-cross-arch-');
  let coordinator: FlotillaProcess;
  let api: ApiClient;
  let mqttUrl: string;
  const agents: FlotillaProcess[] = [];

  beforeAll(async () => {
    for (const t of targets) {
      if (!existsSync(artifactLayout(t, OUT_ROOT).executable)) throw new Error(`${t.name} is not built: run npm run build:targets`);
    }
    coordinator = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', `${dir.path}/coordinator`], { stderr: 'ignore' });
    const listening = await coordinator.waitFor('listening');
    mqttUrl = `mqtt://127.0.0.1:${listening.mqtt}`;
    api = new ApiClient(`http://127.0.0.1:${listening.http}`);
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
      const agent = startArtifact(t, ['--coordinator', mqttUrl, '--id', id, '--token', token, '--data-dir', `${dir.path}/${id}`, '--health-interval', '1'], lines);
      agents.push(agent);
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

  it('every architecture computes byte-identical outputs from the same Wasm step and input', async () => {
    // moving-average does f64 arithmetic and float-to-text formatting: the part most likely to differ by CPU.
    const { wasmPath } = await buildStep('examples/steps/moving-average', `${dir.path}/step`);
    const input = Array.from({ length: 500 }, (_, i) => JSON.stringify({ temp: ((i * 37) % 101) / 7 - 3, i })).join('\n') + '\n';
    const args = ['step', 'run', wasmPath, '--config', JSON.stringify({ field: 'temp', window: 7 })];
    const results = await Promise.all(targets.map(async (t) => ({ t, r: await runArtifact(t, args, input) })));
    const reference = results.find(({ t }) => t.arch === arch())!.r;
    expect(reference.code, reference.stderr).toBe(0);
    expect(reference.stdout.toString().trim().split('\n')).toHaveLength(500);
    for (const { t, r } of results) {
      expect(r.code, `${t.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout.equals(reference.stdout), `${t.name} output differs from ${arch()}`).toBe(true);
    }
  });
});
