import { parseDesired, workers, type DesiredState } from '../../shared/desired.js';
import { devicePublishProblem } from '../../shared/device-acl.js';
import { errorMessage, ValidationError } from '../../shared/errors.js';
import { decode } from '../../shared/messages.js';
import { deviceBase, fetchModule, fetchTopic, ModuleUnavailableError, moduleTopic } from '../../shared/module-fetch.js';
import { resolveOutputTopic } from '../../shared/topics.js';
import type { Agent } from '../agent.js';
import { StepRuntime, StepStore } from '../runtime/index.js';
import { RollbackGuard } from './rollback-guard.js';
import { fetchWithRetry } from './fetch-retry.js';
import { Backoff } from '../../shared/backoff.js';
import { setTimeout as delay } from 'node:timers/promises';
import { Workload } from './workload.js';
import { AgentRevocations } from './revocations.js';
import { z } from 'zod';
import type { TrustedKeys } from '../../shared/signing.js';

/** How long the agent waits for its coordinator to answer one module request (then asks again). */
const FETCH_ATTEMPT_MS = 30_000;
/** How long an unguarded desired state may spend fetching modules (a rollout's guard window bounds a guarded one). */
const FETCH_BUDGET_MS = 120_000;

/** Resolves after `ms`, or early (never rejecting) when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined);

/**
 * Connect a Workload to an agent's link: desired states from the retained `desired` topic (and, at boot, from
 * local state), step inputs and outputs through the agent (its subscriptions and spool), supervisor events back,
 * simple_one_for_one commands, and the tree in every health report.
 */
export async function attachWorkload(
  agent: Agent,
  options: {
    restartBufferSize?: number;
    trusted?: TrustedKeys;
    /** The agent's revoked keys, when something beside the workload reads them too (the updater). */
    revocations?: AgentRevocations;
    /** Every desired state received (the agent updater reads its pin). */
    onDesired?: (desired: DesiredState) => void;
  } = {},
): Promise<Workload> {
  const { opts, client, state } = agent;
  /** A step output the broker would refuse is rejected when the spec (or child) arrives, not at its first message. */
  const checkOutputs = (outputs: (string | undefined)[]) => {
    const problems = outputs.flatMap((o) => (o === undefined ? [] : (devicePublishProblem(opts.id, resolveOutputTopic(opts.id, o)) ?? [])));
    if (problems.length) throw new ValidationError(`output topic refused: ${problems.join('; ')}`);
  };
  const log = opts.log.child('workload');
  const base = deviceBase(opts.id);
  let rootGaveUp = false;
  const revocations = options.revocations ?? new AgentRevocations(state);
  const workload = new Workload({
    runtime: new StepRuntime(),
    store: new StepStore(opts.dataDir),
    trusted: options.trusted ?? new Map(),
    revoked: () => revocations.keyIds(),
    fetchModule: (sha256, deadline, cancel) =>
      fetchWithRetry({
        attempt: (signal, timeoutMs) => fetchModule(client, fetchTopic(base), moduleTopic(base, sha256), sha256, timeoutMs, signal),
        onReconnect: (listener) => {
          client.on('connect', listener);
          return () => void client.off('connect', listener);
        },
        now: Date.now,
        sleep,
        isFinal: (err) => err instanceof ModuleUnavailableError,
        backoff: new Backoff(500, 10_000),
        attemptTimeoutMs: FETCH_ATTEMPT_MS,
      }, deadline, cancel),
    fetchBudgetMs: FETCH_BUDGET_MS,
    publishOutput: (topic, payload) => agent.publishOutput(topic, payload),
    resolveOutput: (output) => resolveOutputTopic(opts.id, output),
    subscribe: (filters) => agent.subscribe(filters),
    unsubscribe: (filters) => agent.unsubscribe(filters),
    onEvent: ({ event }) => {
      const { type, ...data } = event;
      agent.emitEvent(type, data);
      // OTP: the root supervisor gives up when its restart intensity is exceeded; once it is down, a guarded
      // revision goes back (the new tree starts from a stopped runner).
      const root = workload.desired?.spec.id;
      if (event.type === 'reached_max_restart_intensity' && event.supervisor === root) rootGaveUp = true;
      if (event.type === 'supervisor_shutdown' && event.supervisor === root && rootGaveUp) {
        rootGaveUp = false;
        void rollBack(workload.revision, 'its root supervisor gave up (reached_max_restart_intensity)');
      }
    },
    // The agent's log, scoped by the child's path; its logger forwards warn and error lines to the coordinator.
    onLog: (path, level, message) => log.child(path, { step: path })[level](message),
    onStateChange: () => agent.reportHealth(),
    persist: (desired, installedSteps) => state.update({ desired, installedSteps }),
    log,
    restartBufferSize: options.restartBufferSize,
  });
  agent.addHealthSource(() => workload.health());
  agent.addHealthSource(() => (state.data.rolledBack === null ? {} : { rolledBack: state.data.rolledBack }));
  agent.onData((topic, payload) => workload.deliver(topic, payload));
  /** Running steps signed by a revoked key are said once each in the log; health carries them in every report. */
  const warned = new Set<string>();
  const warnRevoked = () => {
    for (const ref of workload.revokedSteps()) {
      if (warned.has(ref)) continue;
      warned.add(ref);
      log.warn(`step ${ref} is signed by revoked key ${workload.desired?.modules[ref]?.signature?.keyId}: kept running, reported as revokedSteps`);
    }
  };
  agent.onRevocations(async (payload) => {
    const added = await revocations.receive(payload);
    if (added.length === 0) return;
    log.warn(`keys revoked: ${added.join(', ')}`);
    warnRevoked();
    agent.reportHealth();
  });
  const guard = new RollbackGuard(Date.now);
  /** Device-local rollback: back to the state before a guarded revision that failed within its window. */
  const rollBack = async (revision: number | undefined, reason: string): Promise<boolean> => {
    const previous = revision === undefined ? undefined : guard.failed(revision);
    if (!previous || revision === undefined) return false;
    log.warn(`rolling back revision ${revision} to ${previous.revision} by itself: ${reason}`);
    await state.update({ rolledBack: revision });
    agent.emitEvent('rolled_back', { revision, to: previous.revision, reason });
    await workload.apply(previous, { revert: true }).catch((err) => log.error(`rollback to revision ${previous.revision} failed: ${errorMessage(err)}`));
    return true;
  };
  agent.onDesired(async (payload) => {
    // A malformed desired state is rejected input (thrown: logged and counted); one that fails to apply is an event.
    const desired = parseDesired(decode(z.unknown(), payload, 'desired spec'));
    options.onDesired?.(desired);
    // Its coordinator still holds (retained) the revision this agent rolled back: it is not run again.
    if (desired.revision === state.data.rolledBack) return;
    guard.applying(desired, workload.desired);
    const applied = Promise.resolve()
      .then(() => checkOutputs(workers(desired.spec).map((w) => w.output)))
      .then(() => workload.apply(desired));
    await applied.catch(async (err) => {
      if (await rollBack(desired.revision, `its tree did not start: ${errorMessage(err)}`)) return;
      log.error(`desired revision ${desired.revision} not applied: ${errorMessage(err)}`);
      agent.emitEvent('desired_failed', { revision: desired.revision, reason: errorMessage(err) });
    });
  });
  agent.onCommand('start_child', async ({ id: _, type: __, ...command }) => {
    checkOutputs([command.output]);
    return workload.startChild(command);
  });
  agent.onCommand('terminate_child', async ({ id: _, type: __, ...command }) => workload.terminateChild(command));

  // Boot: run the last desired state this agent had, from local state and its step store, with or without network.
  const stored = state.data.desired;
  if (stored) {
    let desired: DesiredState | undefined;
    try {
      desired = parseDesired(stored);
    } catch (err) {
      log.error(`stored desired state is invalid, waiting for the coordinator: ${errorMessage(err)}`);
    }
    if (desired) {
      workload.apply(desired, { resume: true }).then(warnRevoked, (err) => log.error(`could not start the stored desired state: ${errorMessage(err)}`));
    }
  }
  return workload;
}
