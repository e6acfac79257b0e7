import { readFileSync } from 'node:fs';
import { mkdir, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentUpdateHealth, type AgentPin, type UpdateState } from '../../shared/agent-release.js';
import { writeFileAtomic } from '../../shared/durable/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { TrustedKeys } from '../../shared/signing.js';
import { FLOTILLA_VERSION } from '../../shared/version.js';
import type { HealthContribution } from '../health.js';
import { decideUpdate } from './decide.js';
import { download } from './download.js';
import { installRelease } from './install.js';
import { SlotHome, type LaunchEnv, type Slot } from './slots.js';

/** Room kept free beyond the download and the unpacked release (logs, spool, the step store). */
const DISK_MARGIN_BYTES = 16 * 1024 * 1024;

export interface UpdaterDeps {
  launch: LaunchEnv | undefined;
  dataDir: string;
  target: string;
  trusted: TrustedKeys;
  /** The fleet's revoked keys as this agent holds them (agent/workload/revocations.ts). */
  revoked(): ReadonlySet<string>;
  /** The artifact's URL on this agent's coordinator. */
  artifactUrl(pin: AgentPin): string;
  emitEvent(type: string, data: Record<string, unknown>): void;
  reportHealth(): void;
  /** End this process cleanly so the launcher starts the staged slot. */
  restart(): void;
  log: Logger;
  fetch?: typeof fetch;
  /** Bytes free where the slots live (statfs; injectable for the disk-space test). */
  freeBytes?(dir: string): Promise<number>;
}

/**
 * The agent's side of an over-the-air update (docs/flashing.md): given the agent its desired state pins, download
 * (disk space checked first, a broken download resumed), verify digest and signature, install into the inactive
 * slot, stage it on trial and exit for the launcher; as the trial agent, commit once joined; report every step and
 * the launcher's rollbacks in health. The last update is kept in `<data-dir>/agent-update.json`.
 */
export class Updater {
  private last: AgentUpdateHealth | undefined;
  private working: Promise<void> = Promise.resolve();
  private readonly home: SlotHome | undefined;
  readonly version: string;

  private constructor(private readonly deps: UpdaterDeps) {
    this.home = deps.launch && new SlotHome(deps.launch.home);
    this.version = (deps.launch && this.home!.release(deps.launch.slot)?.version) ?? FLOTILLA_VERSION;
    this.last = readLast(this.file);
  }

  /** Open, and take what the launcher left: a rollback of the last trial. */
  static async open(deps: UpdaterDeps): Promise<Updater> {
    const u = new Updater(deps);
    const rolledBack = u.home?.takeRolledBack();
    if (rolledBack) {
      deps.log.warn(`the launcher rolled back agent ${rolledBack.version}: ${rolledBack.reason}`);
      await u.record({ revision: rolledBack.revision, version: rolledBack.version, state: 'rolled_back', reason: rolledBack.reason });
      await rm(join(deps.launch!.home, 'rolled-back'), { force: true });
      deps.emitEvent('agent_rolled_back', { revision: rolledBack.revision, version: rolledBack.version, to: u.version, reason: rolledBack.reason });
    }
    return u;
  }

  private get file(): string {
    return join(this.deps.dataDir, 'agent-update.json');
  }

  /** Whether this process is a trial that has not committed yet. */
  get onTrial(): boolean {
    const { launch } = this.deps;
    return launch !== undefined && launch.trial && this.home!.active() !== launch.slot;
  }

  /**
   * The trial agent joined its coordinator: with its tree running (`healthy`) its slot becomes the active one;
   * otherwise it tells the launcher why and ends, and the launcher starts the previous slot.
   */
  async joined(healthy: boolean): Promise<void> {
    if (!this.onTrial) return;
    const { launch, log } = this.deps;
    if (!healthy) {
      const reason = `version ${this.version} joined, but the desired state on disk did not start under it`;
      log.error(reason);
      await this.home!.failTrial(reason);
      this.deps.restart();
      return;
    }
    await this.home!.commit(launch!.slot);
    const revision = this.last?.version === this.version ? this.last.revision : 0;
    await this.record({ revision, version: this.version, state: 'committed' });
    log.info(`agent ${this.version} committed in slot ${launch!.slot}`);
    this.deps.emitEvent('agent_updated', { revision, version: this.version, slot: launch!.slot });
  }

  health(): HealthContribution {
    return { agentVersion: this.version, ...(this.last ? { agentUpdate: this.last } : {}) };
  }

  /** A desired state arrived: update if it pins another agent (one update at a time). */
  desired(revision: number, pin: AgentPin | undefined): Promise<void> {
    if (!pin) return this.working;
    this.working = this.working.then(() => this.consider(revision, pin));
    return this.working;
  }

  private async consider(revision: number, pin: AgentPin): Promise<void> {
    const { launch } = this.deps;
    const decision = decideUpdate(pin, revision, { version: this.version, target: this.deps.target, launched: launch !== undefined }, this.last, this.deps.trusted, this.deps.revoked());
    if (decision.action === 'none') return;
    const version = pin.release.version;
    if (decision.action === 'refuse') return this.fail(revision, version, decision.reason);
    try {
      await this.update(revision, pin, launch!);
    } catch (err) {
      await this.fail(revision, version, errorMessage(err));
    }
  }

  private async update(revision: number, pin: AgentPin, launch: LaunchEnv): Promise<void> {
    const { release } = pin;
    const home = this.home!;
    const slot: Slot = home.active() === 'a' ? 'b' : 'a';
    const downloads = join(launch.home, 'download');
    await mkdir(downloads, { recursive: true });
    const free = await (this.deps.freeBytes ?? freeBytes)(downloads);
    const need = release.size + release.installBytes + DISK_MARGIN_BYTES;
    if (free < need) throw new Error(`not enough disk space for agent ${release.version}: ${need} bytes needed, ${free} free`);
    await this.record({ revision, version: release.version, state: 'downloading' });
    const file = join(downloads, `${release.sha256}.artifact`);
    const transferred = await download({ url: this.deps.artifactUrl(pin), file, sha256: release.sha256, size: release.size, attempts: 5, backoffMs: (n) => 1000 * 2 ** (n - 2), fetch: this.deps.fetch });
    this.deps.log.info(`agent ${release.version}: ${transferred} bytes downloaded, sha256 verified; installing into slot ${slot}`);
    await this.record({ revision, version: release.version, state: 'installing' });
    await installRelease(home, slot, file, release);
    await rm(file, { force: true });
    await home.stageTrial(slot, pin.deadlineS, revision, release.version);
    await this.record({ revision, version: release.version, state: 'trial', restarts: (this.last?.restarts ?? 0) + 1 });
    this.deps.log.info(`agent ${release.version} staged in slot ${slot}: restarting into it (trial of ${pin.deadlineS}s)`);
    this.deps.restart();
  }

  private async fail(revision: number, version: string, reason: string): Promise<void> {
    this.deps.log.error(`agent update to ${version} failed: ${reason}`);
    await this.record({ revision, version, state: 'failed', reason });
    this.deps.emitEvent('agent_update_failed', { revision, version, reason });
  }

  /** Persist and report the last update's state; the restart count carries over. */
  private async record(update: { revision: number; version: string; state: UpdateState; reason?: string; restarts?: number }): Promise<void> {
    this.last = { restarts: this.last?.restarts ?? 0, ...update };
    await writeFileAtomic(this.file, JSON.stringify(this.last) + '\n');
    this.deps.reportHealth();
  }
}

function readLast(file: string): AgentUpdateHealth | undefined {
  try {
    return AgentUpdateHealth.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

