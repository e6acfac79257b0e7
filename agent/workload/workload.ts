import cron, { type ScheduledTask } from 'node-cron';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { InstalledStep } from '../../shared/messages.js';
import type { DesiredState, ModuleRef } from '../../shared/desired.js';
import { stepRefs } from '../../shared/desired.js';
import { manifestFor } from '../../shared/step-manifest.js';
import type { StepLogLevel } from '../../shared/step-abi.js';
import { signatureProblem, type TrustedKeys } from '../../shared/signing.js';
import { revokedSteps } from '../../shared/revocations.js';
import type { StartChildCommand, TerminateChildCommand } from '../../shared/supervisor-spec.js';
import { StepCorruptError, StepNotFoundError, type LoadedStep, type StepRuntime, type StepStore } from '../runtime/index.js';
import { SupervisorRunner, type LoggedEvent } from '../supervisor/index.js';
import type { HealthContribution } from '../health.js';

class UntrustedStepError extends Error {
  override name = 'UntrustedStepError';
}

export interface WorkloadDeps {
  runtime: StepRuntime;
  store: StepStore;
  /** Trusted publisher keys: a module they did not sign is refused before it is fetched or stored (none: any). */
  trusted: TrustedKeys;
  /** Revoked key ids (shared/revocations.ts): a new desired state using a module signed by one is refused. */
  revoked(): ReadonlySet<string>;
  /** Fetches a module's bytes by digest from the coordinator (verified by the fetcher), retrying until `deadline` or `cancel`. */
  fetchModule(sha256: string, deadline: number, cancel: AbortSignal): Promise<Uint8Array>;
  /** How long applying an unguarded desired state may spend fetching its modules (a guarded one: its window). */
  fetchBudgetMs: number;
  /** Publishes a step output on a resolved MQTT topic. */
  publishOutput(topic: string, payload: Uint8Array): void;
  /** Resolves a spec's output (relative or `/`-absolute) to an MQTT topic. */
  resolveOutput(output: string): string;
  /** Subscribes to / unsubscribes from the tree's input filters on the cluster broker. */
  subscribe(filters: string[]): void;
  unsubscribe(filters: string[]): void;
  onEvent(entry: LoggedEvent): void;
  /** A step's `flotilla.log` line, with the child's path. */
  onLog(path: string, level: StepLogLevel, message: string): void;
  /** The desired state changed or finished applying (health should be reported now). */
  onStateChange(): void;
  /** Persists the desired state that is now running (for a reboot without network). */
  persist(desired: DesiredState, installed: InstalledStep[]): Promise<void>;
  log: Logger;
  restartBufferSize?: number;
}

/**
 * What an agent runs: the supervision tree of its desired state. Applying a desired state fetches missing modules
 * (verified by digest, stored content-addressed), then starts the tree or applies only the difference to the
 * running one; it also keeps the tree's MQTT inputs subscribed and its cron inputs scheduled.
 */
export class Workload {
  private runner: SupervisorRunner | undefined;
  private current: DesiredState | undefined;
  private modules: Record<string, ModuleRef> = {};
  /** Loaded steps by sha256: a restart resolves its step without reading and hashing the module file again. */
  private readonly loaded = new Map<string, Promise<LoadedStep>>();
  private filters = new Set<string>();
  private readonly cronTasks: ScheduledTask[] = [];
  private applying: Promise<void> = Promise.resolve();
  private lastRates = { at: Date.now(), in: 0, out: 0 };
  /** Aborted by stop(): a fetch still retrying must not hold up the shutdown. */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: WorkloadDeps) {}

  get revision(): number | undefined {
    return this.current?.revision;
  }

  /** The desired state running now. */
  get desired(): DesiredState | undefined {
    return this.current;
  }

  /** Resolves once every apply queued so far has settled (succeeded or failed). */
  whenIdle(): Promise<void> {
    return this.applying.then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Apply desired states one at a time, in arrival order; a stale revision is ignored. A failed apply (its caller
   * reports it) never blocks the ones queued after it: each waits for the previous to settle, not to succeed.
   * `revert`: going back to an older revision (device-local rollback), which the stale check would skip. `revert`
   * and `resume` (the stored state at boot) apply a state that ran here before: its steps signed by a key revoked
   * since keep running (reported in health), as they do without the restart (docs/decisions.md).
   */
  apply(desired: DesiredState, opts: { revert?: boolean; resume?: boolean } = {}): Promise<void> {
    const next = this.applying.catch(() => undefined).then(() => this.applyNow(desired, opts.revert === true, opts.resume === true || opts.revert === true));
    this.applying = next;
    return next;
  }

  private async applyNow(desired: DesiredState, revert: boolean, ranBefore: boolean): Promise<void> {
    if (!revert && this.current && desired.revision <= this.current.revision) return;
    const { log } = this.deps;
    const revoked = ranBefore ? new Set<string>() : this.deps.revoked();
    // A rollout's coordinator fails a device that has not applied within the guard's window: no point fetching longer.
    const deadline = Date.now() + (desired.guard?.windowMs ?? this.deps.fetchBudgetMs);
    // Every module must be present and verified before anything changes: a spec is applied whole or not at all.
    const installed = await Promise.all(stepRefs(desired.spec).map((ref) => this.ensureModule(ref, desired.modules[ref], revoked, deadline)));
    this.modules = desired.modules;
    const digests = new Set(Object.values(desired.modules).map((m) => m.sha256));
    for (const sha256 of this.loaded.keys()) if (!digests.has(sha256)) this.loaded.delete(sha256);
    if (!this.runner || this.runner.status === 'stopped') {
      this.runner = new SupervisorRunner(desired.spec, {
        runtime: this.deps.runtime,
        resolveStep: (ref) => this.load(ref),
        onOutput: (_path, topic, payload) => this.deps.publishOutput(this.deps.resolveOutput(topic), payload),
        onEvent: (entry) => {
          this.deps.onEvent(entry);
          this.deps.onStateChange();
        },
        onLog: (path, level, message) => this.deps.onLog(path, level, message),
        restartBufferSize: this.deps.restartBufferSize,
      });
      this.current = desired;
      await this.runner.start();
      this.rewire();
    } else {
      this.runner.apply(desired.spec);
      this.current = desired;
      this.rewire();
    }
    await this.deps.persist(desired, installed);
    log.info(`running desired revision ${desired.revision} (${installed.length} step module(s))`);
    this.deps.onStateChange();
  }

  /**
   * The module for `ref` in the local store, fetched from the coordinator if missing or corrupt. Its signature is
   * checked first, also for a module already stored: the digest it covers is the one the fetcher and store verify.
   */
  private async ensureModule(ref: string, mod: ModuleRef, revoked: ReadonlySet<string>, deadline: number): Promise<InstalledStep> {
    const { store } = this.deps;
    const refused = signatureProblem(this.deps.trusted, { ref, sha256: mod.sha256, limits: mod.limits }, mod.signature, revoked);
    if (refused) throw new UntrustedStepError(`step refused: ${refused}`);
    try {
      await store.get(mod.sha256);
    } catch (err) {
      if (!(err instanceof StepNotFoundError || err instanceof StepCorruptError)) throw err;
      const bytes = await this.deps.fetchModule(mod.sha256, deadline, this.stopping.signal);
      const [name, version] = ref.split('@');
      const manifest = manifestFor(bytes, { name, version, limits: mod.limits });
      await store.put(bytes, manifest);
    }
    return { ref, sha256: mod.sha256, size: mod.size };
  }

  /** The step for `ref`: read from the store and verified once, then kept (a failed load is retried next time). */
  private load(ref: string): Promise<LoadedStep> {
    const mod = this.modules[ref];
    if (!mod) return Promise.reject(new Error(`no module for step ${ref}`));
    let step = this.loaded.get(mod.sha256);
    if (!step) {
      const { sha256 } = mod;
      step = this.deps.store.get(sha256).then(({ bytes, manifest }) => this.deps.runtime.load(bytes, manifest));
      this.loaded.set(sha256, step);
      step.catch(() => this.loaded.get(sha256) === step && this.loaded.delete(sha256));
    }
    return step;
  }

  /** Keep subscriptions and cron schedules equal to what the current tree reads. */
  private rewire(): void {
    const runner = this.runner!;
    const wanted = new Set(runner.topicFilters());
    const added = [...wanted].filter((f) => !this.filters.has(f));
    const removed = [...this.filters].filter((f) => !wanted.has(f));
    if (removed.length) this.deps.unsubscribe(removed);
    if (added.length) this.deps.subscribe(added);
    this.filters = wanted;
    for (const task of this.cronTasks.splice(0)) void task.destroy();
    for (const { path, cron: expression } of runner.cronInputs()) {
      this.cronTasks.push(cron.schedule(expression, (ctx) => {
        runner.deliver(path, Buffer.from(JSON.stringify({ tick: ctx.date.getTime() })));
      }));
    }
  }

  /** A message arrived on the cluster broker: hand it to every worker whose input matches. */
  deliver(topic: string, payload: Uint8Array): void {
    this.runner?.deliverTopic(topic, payload);
  }

  startChild(command: Omit<StartChildCommand, 'type'>): Promise<void> {
    if (!this.runner) throw new Error('no supervision tree is running');
    return this.runner.startChild(command).finally(() => this.rewire());
  }

  terminateChild(command: Omit<TerminateChildCommand, 'type'>): Promise<void> {
    if (!this.runner) throw new Error('no supervision tree is running');
    return this.runner.terminateChild(command).finally(() => this.rewire());
  }

  /** Supervision tree, installed steps, message rates and restarts for the health report. */
  health(): HealthContribution {
    if (!this.runner || !this.current) return {};
    const children = this.runner.health();
    const now = Date.now();
    const totals = children.reduce((t, c) => ({ in: t.in + (c.messagesIn ?? 0), out: t.out + (c.messagesOut ?? 0) }), { in: 0, out: 0 });
    const seconds = Math.max(0.001, (now - this.lastRates.at) / 1000);
    const rates = { in: Math.max(0, (totals.in - this.lastRates.in) / seconds), out: Math.max(0, (totals.out - this.lastRates.out) / seconds) };
    this.lastRates = { at: now, ...totals };
    return {
      children,
      steps: stepRefs(this.current.spec).map((ref) => ({ ref, sha256: this.modules[ref].sha256, size: this.modules[ref].size })),
      rates,
      restartsTotal: children.reduce((n, c) => n + c.restarts, 0),
      revision: this.current.revision,
      revokedSteps: this.revokedSteps(),
    };
  }

  /** The steps of the running state whose module is signed by a revoked key. */
  revokedSteps(): string[] {
    return revokedSteps(this.modules, this.deps.revoked());
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const task of this.cronTasks.splice(0)) await task.destroy();
    await this.applying.catch((err) => this.deps.log.warn(`last apply failed: ${errorMessage(err)}`));
    await this.runner?.stop();
    await this.deps.runtime.stop();
  }
}
