import { describe, expect, it } from 'vitest';
import { ChangeRefused, desiredFor, resolveChange, revertsAgent, skipReason } from '../../coordinator/rollouts/change.js';
import { ShareCore, type Observation } from '../../coordinator/rollouts/share-core.js';
import { StepQueue } from '../../coordinator/rollouts/step-queue.js';
import { ShareRunner, type ShareRecord } from '../../coordinator/rollouts/share-runner.js';
import { eventually, memoryLogger } from '../helpers/cluster.js';
import type { DesiredMessage, ModuleRef } from '../../shared/desired.js';
import type { AgentPin, AgentRelease } from '../../shared/agent-release.js';
import type { DeviceSummary } from '../../shared/api.js';

const mod = (c: string): ModuleRef => ({ sha256: c.repeat(64), size: 1 });
const clock = (t = 1_000_000) => ({ now: () => t, set: (v: number) => (t = v) });
const gates = { soakMs: 10_000, maxRestarts: 0, offlineTimeoutMs: 60_000, applyTimeoutMs: 5_000 };
const running = (revision: number): Observation => ({ online: true, revision, allRunning: true, restartsTotal: 0 });
const offline: Observation = { online: false, revision: null, allRunning: false, restartsTotal: 0 };

describe('share core: a restart of its coordinator is not the device going offline', () => {
  it('a restored share gives a soaking device the grace to be heard again before "offline" fails it', () => {
    const c = clock();
    const core = ShareCore.create(gates, [{ id: 'd1' }], c);
    core.setOrder({ wave: 0, quota: 1, mode: 'run', revert: { failed: false, wave: null, all: false } });
    core.observe('d1', running(0));
    core.applied('d1', 7);
    core.observe('d1', running(7));
    // The coordinator restarts mid-soak: what it knows of d1 is "not heard yet", online false.
    const restored = ShareCore.restore(core.snapshot(), c, 30_000);
    const decisions = restored.observe('d1', offline);
    expect(restored.report().devices[0]).toMatchObject({ state: 'updating' });
    expect(decisions).toContainEqual({ type: 'timer', at: c.now() + 30_000 });
    c.set(c.now() + 2_000);
    restored.observe('d1', running(7));
    c.set(c.now() + 10_000);
    restored.tick();
    expect(restored.report().devices[0]).toMatchObject({ state: 'healthy' });
  });

  it('without word within the grace, offline during the soak fails the device', () => {
    const c = clock();
    const core = ShareCore.create(gates, [{ id: 'd1' }], c);
    core.setOrder({ wave: 0, quota: 1, mode: 'run', revert: { failed: false, wave: null, all: false } });
    core.observe('d1', running(0));
    core.applied('d1', 7);
    const restored = ShareCore.restore(core.snapshot(), c, 30_000);
    restored.observe('d1', offline);
    c.set(c.now() + 30_000);
    restored.tick();
    expect(restored.report().devices[0]).toMatchObject({ state: 'failed', reason: 'went offline during its soak' });
  });
});

describe('the change seam: resolved at the owner, applied at the device\'s coordinator', () => {
  const current: DesiredMessage = {
    revision: 3,
    ts: 0,
    spec: { id: 'root', children: [{ id: 'a', step: 'avg@1' }, { id: 'b', step: 'other@2' }] },
    modules: { 'avg@1': mod('a'), 'other@2': mod('b') },
  };
  const steps = { resolve: () => ({ 'x@1': mod('c') }), module: (ref: string) => (ref === 'avg@2' ? mod('d') : undefined) };
  const release = { target: 'linux-arm64', version: '2.0.0' } as AgentRelease;
  const releases = {
    resolve: async (v: string) => (v === '2.0.0' ? [release] : []),
    held: (v: string) => (v === '2.0.0' ? [release] : []),
    pin: (target: string | undefined, v: string, deadlineS: number) => (target === 'linux-arm64' && v === '2.0.0' ? ({ release, httpPort: 1, deadlineS } as AgentPin) : undefined),
  };
  const env = { steps, releases, revoked: () => new Set<string>() };
  const device = (summary?: Partial<DeviceSummary>) => ({ current, summary: summary as DeviceSummary | undefined });

  it('a step bump brings its one module; the device keeps its own for the steps it keeps, and drops the old one', async () => {
    const change = { step: 'avg@2' };
    const modules = await resolveChange(change, env);
    expect(modules).toEqual({ 'avg@2': mod('d') });
    expect(skipReason(change, device(), env)).toBeUndefined();
    const next = desiredFor(change, modules, device(), env, 5_000);
    expect(next.spec).toMatchObject({ id: 'root', children: [{ id: 'a', step: 'avg@2' }, { id: 'b', step: 'other@2' }] });
    expect(next.modules).toEqual({ 'avg@2': mod('d'), 'other@2': mod('b') });
    expect(next).toMatchObject({ guard: true });
    expect(next.agent).toBeUndefined();
    expect(skipReason({ step: 'none@1' }, device(), env)).toBe('it does not run none');
    expect(revertsAgent(change)).toBe(false);
  });

  it('an unknown step is refused naming the field; a whole spec skips nobody and is given as it is', async () => {
    await expect(resolveChange({ step: 'avg@9' }, env)).rejects.toThrow(new ChangeRefused('change.step', 'unknown step avg@9: push it first (flotilla step push)'));
    const change = { spec: { id: 'root', children: [] } };
    expect(skipReason(change, { current: undefined, summary: undefined }, env)).toBeUndefined();
    expect(desiredFor(change, { 'x@1': mod('c') }, device(), env, 5_000)).toEqual({ spec: change.spec, modules: { 'x@1': mod('c') }, guard: true });
  });

  it('a change bringing a module or a release signed by a revoked key is refused naming the field, before any device is asked', async () => {
    const key = '0123456789abcdef';
    const signature = { keyId: key, sig: `${'A'.repeat(86)}==` };
    const revokedEnv = {
      steps: { resolve: () => ({ 'x@1': { ...mod('c'), signature } }), module: () => ({ ...mod('d'), signature }) },
      releases: { ...releases, resolve: async () => [{ ...release, signature }] },
      revoked: () => new Set([key]),
    };
    await expect(resolveChange({ step: 'avg@2' }, revokedEnv)).rejects.toThrow(new ChangeRefused('change.step', `avg@2 is signed by revoked key ${key}: push a version signed by a key in use`));
    await expect(resolveChange({ spec: { id: 'root', children: [] } }, revokedEnv)).rejects.toThrow(new ChangeRefused('change.spec', `x@1 is signed by revoked key ${key}: push a version signed by a key in use`));
    await expect(resolveChange({ agent: '2.0.0' }, revokedEnv)).rejects.toThrow(new ChangeRefused('change.agent', `agent release linux-arm64@2.0.0 is signed by revoked key ${key}`));
  });

  it('an agent release pins the release of the device\'s own target, keeps its tree, and reverts the pin', async () => {
    const change = { agent: '2.0.0' };
    expect(await resolveChange(change, env)).toEqual({});
    await expect(resolveChange({ agent: '9.9.9' }, env)).rejects.toThrow(new ChangeRefused('change.agent', 'no agent release 9.9.9: push one per target first (flotilla agent-release push)'));
    expect(skipReason(change, device({ target: 'linux-arm64', agentVersion: '1.0.0' }), env)).toBeUndefined();
    expect(skipReason(change, device({ target: 'linux-arm64', agentVersion: '2.0.0' }), env)).toBe('it already runs agent 2.0.0');
    expect(skipReason(change, device({ target: 'linux-mipsel', agentVersion: '1.0.0' }), env)).toBe('no release 2.0.0 for its target linux-mipsel');
    const next = desiredFor(change, {}, device({ target: 'linux-arm64' }), env, 120_000);
    // The trial gets half the apply timeout, in seconds.
    expect(next).toEqual({ spec: current.spec, modules: current.modules, guard: false, agent: { release, httpPort: 1, deadlineS: 60 } });
    expect(() => desiredFor(change, {}, device({ target: 'linux-mipsel' }), env, 120_000)).toThrow('no release 2.0.0 for its target');
    expect(revertsAgent(change)).toBe(true);
  });
});

describe('step queue: steps queued during a commit share the next one', () => {
  it('runs every queued step, then commits once for all of them, in order', async () => {
    const log: string[] = [];
    let commits = 0;
    const q = new StepQueue(async () => ++commits, () => log.push(`after ${commits}`), () => {});
    const first = q.run(() => log.push('s1'));
    const rest = [q.run(() => log.push('s2')), q.run(() => log.push('s3'))];
    expect(await first).toBe(1);
    expect(await Promise.all(rest)).toEqual([2, 2]);
    expect(log).toEqual(['s1', 'after 1', 's2', 's3', 'after 2']);
  });

  it('a step that throws rejects alone; the others of its batch commit', async () => {
    const errors: unknown[] = [];
    const q = new StepQueue(async () => 'ok', () => {}, (err) => errors.push(err));
    const results = await Promise.allSettled([
      q.run(() => {}),
      q.run(() => {
        throw new Error('boom');
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(errors).toEqual([new Error('boom')]);
  });
});

/** The registries a share reads, for changes that need none of them. */
const noEnv = {
  steps: { resolve: () => ({}), module: () => undefined },
  releases: { resolve: async () => [], held: () => [], pin: () => undefined },
  revoked: () => new Set<string>(),
};

describe('share runner: a step that changes nothing durable writes nothing', () => {
  it('observations that leave the share as it is do not rewrite rollouts.json', async () => {
    let saves = 0;
    const runner = ShareRunner.create(
      { rollout: 'r-1', gates, change: { spec: { id: 'root', children: [] } }, modules: {}, devices: ['d1', 'd2'] },
      true,
      {
        desiredOf: () => undefined,
        device: () => ({ current: undefined, summary: undefined }),
        env: noEnv,
        applyDesired: async () => 7,
        observe: () => running(0),
        save: async () => void saves++,
        report: () => {},
        log: memoryLogger([]),
        now: Date.now,
      },
    );
    try {
      await runner.start();
      expect(saves).toBe(1);
      // Health reports that say nothing new, before the devices' wave.
      runner.observe('d1');
      runner.observe('d2');
      await runner.current();
      expect(saves).toBe(1);
      // An order does change the share: written.
      await runner.order({ wave: 0, quota: 1, mode: 'run', revert: { failed: false, wave: null, all: false } });
      expect(saves).toBe(2);
    } finally {
      runner.stop();
    }
  });
});

describe('share runner: killed between storing a device\'s new desired state and recording it', () => {
  it('the resumed share records the change as applied instead of sending it again', async () => {
    const before: DesiredMessage = { revision: 3, ts: 0, spec: { id: 'root', children: [{ id: 'a', step: 'avg@1' }] }, modules: { 'avg@1': mod('a') } };
    const after: DesiredMessage = { revision: 9, ts: 0, spec: { id: 'root', children: [{ id: 'a', step: 'avg@2' }] }, modules: { 'avg@2': mod('d') } };
    let stored: ShareRecord | undefined;
    let desired = before;
    const applied: string[] = [];
    const deps = {
      desiredOf: () => desired,
      device: () => ({ current: desired, summary: undefined }),
      env: noEnv,
      // The first coordinator dies while storing: the desired state changes, the answer never comes.
      applyDesired: () => ((desired = after), new Promise<number>(() => {})),
      observe: () => running(3),
      save: async (r: ShareRecord) => void (stored = structuredClone(r)),
      report: () => {},
      log: memoryLogger([]),
      now: Date.now,
    };
    const first = ShareRunner.create({ rollout: 'r-1', gates, change: { step: 'avg@2' }, modules: { 'avg@2': mod('d') }, devices: ['d1'] }, true, deps);
    await first.start();
    await first.order({ wave: 0, quota: 1, mode: 'run', revert: { failed: false, wave: null, all: false } });
    first.stop();
    expect(stored!.share.devices[0]).toMatchObject({ state: 'updating' });
    expect(stored!.share.devices[0].revision).toBeUndefined();

    const resumed = ShareRunner.restore(stored!, { ...deps, applyDesired: async (id) => (applied.push(id), 10) });
    try {
      await resumed.start();
      await eventually(async () => (await resumed.current()).report.devices[0].revision === 9, 5_000, 'revision 9 recorded');
      expect(applied).toEqual([]);
    } finally {
      resumed.stop();
    }
  });
});
