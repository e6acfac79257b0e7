import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, signStep, trustedKeys } from '../../shared/signing.js';
import { resolveSpec } from '../../coordinator/desired/index.js';
import type { ModuleRef } from '../../shared/desired.js';
import type { AgentPin, AgentRelease } from '../../shared/agent-release.js';
import type { HealthMessage } from '../../shared/messages.js';
import { loadTargets } from '../../firmware-targets/descriptor.js';
import { TARGETS_DIR, REPO_ROOT } from '../../firmware-targets/build.js';
import { buildStep } from '../../cli/step-build.js';
import { eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { launch, packRelease, putRelease, seaTree, writeLauncher, type Launched } from './ota-helpers.js';

// The A/B launcher (firmware-targets/kit/flotilla-launcher.sh) with real processes on x64: slot A runs the real
// agent; releases are SEA-shaped tarballs whose `flotilla-agent` is a script (the real agent, one that exits at
// start, one that never connects), pushed signed and pinned in the device's desired state.
const target = loadTargets(TARGETS_DIR).find((t) => t.name === 'linux-x64')!;
const AGENT = `exec "${process.execPath}" "${join(REPO_ROOT, 'dist/firmware-targets/agent-entry.js')}" "$@"`;
const DEADLINE_S = 6;

describe('A/B launcher on x64', () => {
  const dir = tempDir('flotilla-launcher-');
  const key = generateSigningKey();
  const priv = createPrivateKey(key.privatePem);
  const home = join(dir.path, 'home');
  let c: Awaited<ReturnType<typeof startCoordinator>>;
  let device: Launched;
  let spec: unknown;
  let modules: Record<string, ModuleRef>;

  const health = (): HealthMessage | undefined => c.coordinator.directory.live.get('dev')?.health;

  /** Push a release whose `flotilla-agent` runs `script`, and pin it in the device's desired state. */
  async function roll(version: string, script: string): Promise<AgentRelease> {
    const packed = packRelease(seaTree(join(dir.path, `r-${version}`), script), join(dir.path, `r-${version}.tar.xz`), { target: 'linux-x64', version }, priv);
    const res = await putRelease(c.api, packed);
    expect(res.status, await res.clone().text()).toBe(201);
    const release = c.coordinator.releases.get('linux-x64', version)!;
    const pin: AgentPin = { release, httpPort: c.coordinator.httpPort, deadlineS: DEADLINE_S };
    const { errors } = await c.coordinator.desired.apply(['dev'], spec, modules, undefined, pin);
    expect(errors).toEqual({});
    return release;
  }

  beforeAll(async () => {
    const pub = join(dir.path, 'acme.pub');
    writeFileSync(pub, key.publicPem);
    c = await startCoordinator({ trust: trustedKeys([createPublicKey(key.publicPem)]) });
    const token = await c.coordinator.registry.enroll("dev");
    c.coordinator.directory.enrolled("dev");
    const launcher = writeLauncher(target, home);
    seaTree(join(home, 'slots', 'a'), AGENT);
    writeFileSync(join(home, 'active'), 'a\n');
    // The device runs one step, signed like everything it runs: it must keep running across every update and rollback.
    const built = await buildStep(join(REPO_ROOT, 'examples/steps/moving-average'), join(dir.path, 'step'));
    const ref = `moving-average@${built.manifest.version}`;
    const bytes = readFileSync(built.wasmPath);
    const signature = signStep({ ref, sha256: built.manifest.sha256, limits: built.manifest.limits }, priv);
    const pushed = await fetch(`${c.api}/api/v1/steps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'moving-average', version: built.manifest.version, limits: built.manifest.limits, module: bytes.toString('base64'), signature }),
    });
    expect(pushed.status).toBe(201);
    spec = { id: 'root', children: [{ id: 'avg', step: ref, config: { field: 't' }, input: 'in/t' }] };
    modules = resolveSpec(spec, (r) => c.coordinator.steps.resolve(r));
    await c.coordinator.desired.apply(['dev'], spec, modules);
    device = launch(['sh', launcher, '--coordinator', c.mqttUrl, '--id', 'dev', `--token=${token}`, '--data-dir', join(dir.path, 'data'), '--health-interval', '1', '--trust', pub], {
      ...process.env,
      FLOTILLA_HOME: home,
      FLOTILLA_TARGET: 'linux-x64',
    });
    await eventually(() => health()?.children.some((ch) => ch.path === 'root/avg' && ch.state === 'running'), 30_000, 'the device running its step on slot A');
  });

  afterAll(async () => {
    await device?.stop();
    await c?.stop();
    dir.cleanup();
  });

  const onlineOn = (version: string) => {
    const h = health();
    return c.coordinator.directory.live.get('dev')?.online && h?.agentVersion === version && h.children.some((ch) => ch.path === 'root/avg' && ch.state === 'running') && h;
  };

  it('a release that exits at start is rolled back to A; the device is back online on A with its step, reporting rolled_back', async () => {
    const started = Date.now();
    await roll('0.2.0-crash', 'echo "broken build" >&2; exit 3');
    const h = await eventually(() => health()?.agentUpdate?.state === 'rolled_back' && onlineOn('0.1.0'), 30_000, 'rolled back to A');
    expect(h.agentUpdate).toMatchObject({ version: '0.2.0-crash', state: 'rolled_back', restarts: 1 });
    expect(h.agentUpdate!.reason).toMatch(/exited with code 3 before it joined/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(readFileSync(join(home, 'active'), 'utf8').trim()).toBe('a');
    expect(existsSync(join(home, 'trial'))).toBe(false);
  });

  it('a release that never connects is rolled back to A within its deadline', async () => {
    // The real agent, pointed at a port nobody listens on (later flags win).
    const started = Date.now();
    await roll('0.2.0-offline', `${AGENT} --coordinator mqtt://127.0.0.1:1`);
    const h = await eventually(() => health()?.agentUpdate?.version === '0.2.0-offline' && health()?.agentUpdate?.state === 'rolled_back' && onlineOn('0.1.0'), 60_000, 'rolled back to A');
    expect(h.agentUpdate!.reason).toMatch(new RegExp(`did not join and report healthy within ${DEADLINE_S}s`));
    expect(h.agentUpdate!.restarts).toBe(2);
    // Deadline, the launcher's 5 s grace at most, and A's start again.
    expect(Date.now() - started).toBeLessThan((DEADLINE_S + 5 + 15) * 1000);
  });

  it('a release signed by a key the device does not trust is refused before it is downloaded', async () => {
    const rogue = generateSigningKey();
    const release = c.coordinator.releases.get('linux-x64', '0.2.0-crash')!;
    const forged = { ...release, version: '0.2.0-forged', signature: { ...release.signature!, keyId: rogue.keyId } };
    await c.coordinator.desired.apply(['dev'], spec, modules, undefined, { release: forged, httpPort: c.coordinator.httpPort, deadlineS: DEADLINE_S });
    const h = await eventually(() => health()?.agentUpdate?.version === '0.2.0-forged' && health(), 20_000, 'the refusal');
    expect(h.agentUpdate).toMatchObject({ state: 'failed', restarts: 2 });
    expect(h.agentUpdate!.reason).toMatch(new RegExp(`untrusted key ${rogue.keyId}`));
    expect(onlineOn('0.1.0')).toBeTruthy();
  });

  it('a trial agent that finds itself unhealthy ends its trial with its reason, and A runs again', async () => {
    // What agent/update/updater.ts does when the tree on disk does not start under the new agent.
    await roll('0.2.0-sick', 'echo "version 0.2.0-sick joined, but its tree did not start" > "$FLOTILLA_HOME/trial-failed"; exit 0');
    const h = await eventually(() => health()?.agentUpdate?.version === '0.2.0-sick' && health()?.agentUpdate?.state === 'rolled_back' && onlineOn('0.1.0'), 30_000, 'rolled back to A');
    expect(h.agentUpdate).toMatchObject({ reason: 'version 0.2.0-sick joined, but its tree did not start', restarts: 3 });
  });

  it('a good release B is taken: the device restarts into slot B, commits, reports 0.2.0, keeps its step, and A stays beside it', async () => {
    const before = health()!.revision;
    await roll('0.2.0', AGENT);
    const h = await eventually(() => health()?.agentUpdate?.state === 'committed' && onlineOn('0.2.0'), 30_000, 'committed on B');
    expect(h.agentUpdate).toMatchObject({ version: '0.2.0', restarts: 4 });
    expect(h.revision).toBeGreaterThan(before!);
    expect(readFileSync(join(home, 'active'), 'utf8').trim()).toBe('b');
    expect(existsSync(join(home, 'slots', 'a', 'flotilla-agent'))).toBe(true);
    expect(JSON.parse(readFileSync(join(home, 'slots', 'b', 'release.json'), 'utf8'))).toMatchObject({ version: '0.2.0', signature: { keyId: key.keyId } });
    expect(device.milestones.filter((m) => m.event === 'joined').map((m) => m.version)).toEqual(['0.1.0', '0.1.0', '0.1.0', '0.1.0', '0.2.0']);
  });

  it('a release signed by a key revoked since is refused by the agent from its own revocation list: reported failed, it stays on its version', async () => {
    const revoked = await fetch(`${c.api}/api/v1/keys/revocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keyId: key.keyId }) });
    expect(revoked.status).toBe(200);
    // The list reached the agent: it reports its running step, signed by that key, as revokedSteps.
    await eventually(() => health()?.revokedSteps?.length, 20_000, 'the revocation on the device');
    // A release pushed before the revocation, pinned directly (as a desired state kept from before would).
    const release = c.coordinator.releases.get('linux-x64', '0.2.0-crash')!;
    await c.coordinator.desired.apply(['dev'], spec, modules, undefined, { release, httpPort: c.coordinator.httpPort, deadlineS: DEADLINE_S });
    const h = await eventually(() => health()?.agentUpdate?.version === '0.2.0-crash' && health(), 20_000, 'the refusal');
    expect(h.agentUpdate).toMatchObject({ state: 'failed', restarts: 4, reason: `release refused: agent release linux-x64@0.2.0-crash is signed by revoked key ${key.keyId}` });
    expect(onlineOn('0.2.0')).toBeTruthy();
    expect(readFileSync(join(home, 'active'), 'utf8').trim()).toBe('b');
  });
});
