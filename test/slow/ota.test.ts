import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { OUT_ROOT, REPO_ROOT, TARGETS_DIR } from '../../firmware-targets/build.js';
import { BuildCache } from '../../firmware-targets/cache.js';
import { loadTargets, type TargetDescriptor } from '../../firmware-targets/descriptor.js';
import { npmNodeBinary } from '../../firmware-targets/fetch.js';
import { artifactLayout, nodeCommand } from '../../firmware-targets/launch.js';
import { buildSea } from '../../firmware-targets/sea.js';
import { BuildRelease, RUNTIME_DIGEST_FILE } from '../../firmware-targets/release-info.js';
import { generateSigningKey } from '../../shared/signing.js';
import type { RolloutStatus } from '../../shared/rollout.js';
import type { DeviceSummary } from '../../shared/api.js';
import { eventually, tempDir } from '../helpers/cluster.js';
import { launch, packRelease, putRelease, type Launched } from '../ota/ota-helpers.js';

// Issue 14's emulated proof: a linux-arm64 (SEA) and a linux-mipsel (runtime tree) agent, each under its A/B
// launcher and qemu-user, update themselves through agent rollouts: a release that exits at start and one that
// never connects are rolled back on both (each back online on A within the deadline), then B is taken. The MIPS
// update ships only the agent bundle.
const targets = loadTargets(TARGETS_DIR).filter((t) => t.name === 'linux-arm64' || t.name === 'linux-mipsel');
/**
 * The rollouts' apply timeout; the trial gets half (coordinator/rollouts/local-rollout.ts). An emulated SEA takes
 * 10-60 s to join on a 2-core host shared with other work, so a release expected to join gets a generous one (it
 * costs nothing once the device commits); the one that never joins a short one (it costs its whole trial).
 */
const APPLY_TIMEOUT_S = 240;
const HANG_APPLY_TIMEOUT_S = 90;
const TRIAL_S = HANG_APPLY_TIMEOUT_S / 2;

/** How the host runs the target's executables: qemu-user for a SEA; a runtime tree's own script adds -L itself. */
function emulator(t: TargetDescriptor): string {
  if (t.arch === arch()) return '';
  return t.artifact.kind === 'sea' ? nodeCommand(t, '', arch()).slice(0, -1).join(' ') : t.emulation!.qemu;
}

/** Slot A as install.sh lays it out, from the built artifact. */
function flash(t: TargetDescriptor, home: string): void {
  const layout = artifactLayout(t, OUT_ROOT);
  mkdirSync(join(home, 'slots', 'a'), { recursive: true });
  if (t.artifact.kind === 'sea') {
    cpSync(layout.executable, join(home, 'slots', 'a', 'flotilla-agent'));
    cpSync(layout.kit, join(home, 'slots', 'a', 'kit'), { recursive: true });
  } else {
    cpSync(layout.tree, join(home, 'slots', 'a', 'flotilla'), { recursive: true, verbatimSymlinks: true });
  }
  writeFileSync(join(home, 'active'), 'a\n');
}

/** A deliberately broken build of the target whose agent runs `code` (a CommonJS script) instead of the agent. */
async function brokenBuild(t: TargetDescriptor, work: string, code: string): Promise<{ dir: string; kind: 'full' | 'bundle'; runtime?: string }> {
  const dir = join(work, 'tree');
  const script = join(work, 'main.cjs');
  mkdirSync(work, { recursive: true });
  writeFileSync(script, code);
  const layout = artifactLayout(t, OUT_ROOT);
  if (t.node.from === 'npm') {
    // A real SEA of the target's Node, made the way build:targets makes the agent's.
    const base = await npmNodeBinary(new BuildCache(join(REPO_ROOT, '.cache')), t.node.package, t.node.version);
    mkdirSync(dir, { recursive: true });
    await buildSea({ node: nodeCommand(t, base, arch()), base, bundle: script, out: join(dir, 'flotilla-agent') });
    cpSync(layout.kit, join(dir, 'kit'), { recursive: true });
    return { dir, kind: 'full' };
  }
  // A bundle-only release: the launcher script, the kit and the runtime digest of the build, another agent.cjs.
  const release = BuildRelease.parse(JSON.parse(readFileSync(join(layout.dir, 'release.json'), 'utf8')));
  for (const part of ['bin', 'kit', RUNTIME_DIGEST_FILE]) cpSync(join(layout.tree, part), join(dir, 'flotilla', part), { recursive: true });
  mkdirSync(join(dir, 'flotilla', 'lib'), { recursive: true });
  cpSync(script, join(dir, 'flotilla', 'lib', 'agent.cjs'));
  return { dir, kind: 'bundle', runtime: release.runtime };
}

describe('over-the-air agent updates under emulation (linux-arm64, linux-mipsel)', () => {
  const dir = tempDir('flotilla-ota-slow-');
  const key = generateSigningKey();
  const keyFile = join(dir.path, 'acme.key');
  const pubFile = join(dir.path, 'acme.pub');
  let coordinator: FlotillaProcess;
  let api: ApiClient;
  let apiUrl: string;
  let mqttUrl: string;
  const devices = new Map<string, Launched>();

  const summary = async (id: string): Promise<DeviceSummary | undefined> => (await api.devices()).devices.find((d) => d.id === id);
  const detail = async (id: string) => (await fetch(`${apiUrl}/api/v1/devices/${id}`)).json() as Promise<{ health?: { agentUpdate?: { version: string; state: string; reason?: string; restarts: number } } }>;

  async function rollout(version: string, applyTimeoutS = APPLY_TIMEOUT_S): Promise<RolloutStatus> {
    const { id } = await api.startRollout({ selector: 'fleet=ota', change: { agent: version }, canary: 2, waves: '100%', soak: '2s', applyTimeout: `${applyTimeoutS}s` });
    return eventually(async () => {
      const s = await api.rollout(id);
      return s.state !== 'running' && s;
    }, (applyTimeoutS + 120) * 1000, `rollout of ${version} to end`);
  }

  /** Both devices online on `version`, each with the update state given. */
  /** Both devices online on `version`, their last update in `state` (that of release `update`, when named). */
  async function bothOn(version: string, state: string, what: string, update?: string) {
    return eventually(async () => {
      const all = await Promise.all(targets.map(async (t) => ({ t, s: await summary(`dev-${t.name}`), d: await detail(`dev-${t.name}`) })));
      // Naming the release matters after a halt: a device still on its trial reports the previous case's rollback.
      const done = ({ s, d }: (typeof all)[number]) => s?.online && s.agentVersion === version && d.health?.agentUpdate?.state === state && (update === undefined || d.health.agentUpdate.version === update);
      return all.every(done) && all;
    }, 180_000, what);
  }

  beforeAll(async () => {
    writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
    writeFileSync(pubFile, key.publicPem);
    coordinator = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', join(dir.path, 'coordinator'), '--trust', pubFile], { stderr: 'ignore' });
    const listening = await coordinator.waitFor('listening');
    mqttUrl = `mqtt://127.0.0.1:${listening.mqtt}`;
    apiUrl = `http://127.0.0.1:${listening.http}`;
    api = new ApiClient(apiUrl);
    for (const t of targets) {
      const id = `dev-${t.name}`;
      const { token } = await api.enroll(id, { fleet: 'ota' });
      const home = join(dir.path, id);
      flash(t, home);
      const launcher = join(artifactLayout(t, OUT_ROOT).kit, 'flotilla-launcher');
      // Health every 5 s: a device counts as offline after two silent intervals, and an emulated agent on a busy
      // 2-core host can stall for seconds.
      devices.set(
        t.name,
        launch(['sh', launcher, '--coordinator', mqttUrl, '--id', id, `--token=${token}`, '--data-dir', join(dir.path, `${id}-data`), '--health-interval', '5', '--trust', pubFile], {
          ...process.env,
          FLOTILLA_HOME: home,
          FLOTILLA_EMULATOR: emulator(t),
        }),
      );
    }
    await eventually(async () => {
      const all = await Promise.all(targets.map((t) => summary(`dev-${t.name}`)));
      return all.every((s) => s?.online && s.agentVersion === '0.1.0');
    }, 180_000, 'both emulated agents online on slot A');
  });

  afterAll(async () => {
    await Promise.all([...devices.values()].map((d) => d.stop()));
    await coordinator?.stop();
    dir.cleanup();
  });

  it('a release that exits at start is rolled back on both; each is back online on A', async () => {
    for (const t of targets) {
      const work = join(dir.path, `crash-${t.name}`);
      const build = await brokenBuild(t, work, 'console.error("broken build"); process.exit(3);');
      expect((await putRelease(apiUrl, packRelease(build.dir, join(work, 'r.tar.xz'), { target: t.name, version: '0.2.0-crash', kind: build.kind, runtime: build.runtime }, createPrivateKey(key.privatePem)))).status).toBe(201);
    }
    const status = await rollout('0.2.0-crash');
    // The canary halts at its first failure; the other device finishes its own trial regardless.
    expect(status.state).toBe('halted');
    expect(status.reason).toMatch(/version 0\.2\.0-crash exited with code 3 before it joined/);
    const back = await bothOn('0.1.0', 'rolled_back', 'both back online on A after the crashing release', '0.2.0-crash');
    for (const { d } of back) expect(d.health!.agentUpdate).toMatchObject({ version: '0.2.0-crash', reason: expect.stringMatching(/exited with code 3 before it joined/) });
  });

  it('a release that never connects is rolled back on both within the deadline', async () => {
    for (const t of targets) {
      const work = join(dir.path, `hang-${t.name}`);
      const build = await brokenBuild(t, work, 'setInterval(() => {}, 60000);');
      expect((await putRelease(apiUrl, packRelease(build.dir, join(work, 'r.tar.xz'), { target: t.name, version: '0.2.0-hang', kind: build.kind, runtime: build.runtime }, createPrivateKey(key.privatePem)))).status).toBe(201);
    }
    const started = Date.now();
    const status = await rollout('0.2.0-hang', HANG_APPLY_TIMEOUT_S);
    // Halted by the first device's verdict: its own rollback, or its gate's timeout if A's emulated restart was slow.
    expect(status.state).toBe('halted');
    const back = await bothOn('0.1.0', 'rolled_back', 'both back online on A after the hanging release', '0.2.0-hang');
    for (const { d } of back) expect(d.health!.agentUpdate).toMatchObject({ version: '0.2.0-hang', reason: `version 0.2.0-hang did not join and report healthy within ${TRIAL_S}s` });
    // Download and install, the trial's deadline, the launcher's 5 s grace, A's emulated start.
    expect(Date.now() - started).toBeLessThan((TRIAL_S + 150) * 1000);
  });

  it('both take release B through a rollout; the MIPS update ships only the agent bundle', async () => {
    const bytes: string[] = [];
    for (const t of targets) {
      const args = ['agent-release', 'push', artifactLayout(t, OUT_ROOT).dir, '--version', '0.2.0', '--sign', keyFile, '--api', apiUrl, ...(t.artifact.kind === 'runtime' ? ['--bundle'] : [])];
      expect(await spawnFlotilla(args, { stderr: 'ignore' }).exited).toBe(0);
      const release = BuildRelease.parse(JSON.parse(readFileSync(join(artifactLayout(t, OUT_ROOT).dir, 'release.json'), 'utf8')));
      const shipped = t.artifact.kind === 'runtime' ? release.bundle! : release.full;
      bytes.push(`| ${t.name} | ${t.artifact.kind === 'runtime' ? 'bundle only' : 'whole SEA'} | ${(statSync(join(artifactLayout(t, OUT_ROOT).dir, shipped.file)).size / 1e6).toFixed(2)} MB | ${(statSync(artifactLayout(t, OUT_ROOT).tarball).size / 1e6).toFixed(2)} MB |`);
    }
    const status = await rollout('0.2.0');
    expect(status.state, JSON.stringify(status)).toBe('succeeded');
    const on = await bothOn('0.2.0', 'committed', 'both on release B');
    for (const { d } of on) expect(d.health!.agentUpdate!.restarts).toBe(3);
    for (const t of targets) expect(readFileSync(join(dir.path, `dev-${t.name}`, 'active'), 'utf8').trim()).toBe('b');
    console.log(['Bytes per device for one agent update', '| target | ships | update | whole artifact |', '| --- | --- | ---: | ---: |', ...bytes].join('\n'));
  });
});
