import { join } from 'node:path';
import { z } from 'zod';
import { AgentRelease, releaseKey } from '../../shared/agent-release.js';
import { errorMessage } from '../../shared/errors.js';
import { openMapFile, type DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import type { Logger } from '../../shared/log.js';

/**
 * Agent releases by `target@version` (`agent-releases.json` in the data dir); the bytes live in the ArtifactStore.
 * A child coordinator that lacks a release asks its parent's API once and keeps what it learns.
 */
export class ReleaseRegistry {
  private constructor(
    private readonly store: DurableFile<Map<string, AgentRelease>>,
    private readonly parent: { http: string; token?: string } | undefined,
    private readonly log: Logger,
  ) {}

  static async open(dataDir: string, opts: StoreOptions, parent?: { http: string; token?: string }): Promise<ReleaseRegistry> {
    const file = await openMapFile({ path: join(dataDir, 'agent-releases.json'), what: 'agent release registry', key: 'releases' }, z.string(), AgentRelease, opts);
    return new ReleaseRegistry(file, parent, opts.log);
  }

  list(): AgentRelease[] {
    return [...this.store.data.values()].sort((a, b) => a.target.localeCompare(b.target) || b.uploadedAt - a.uploadedAt);
  }

  get(target: string, version: string): AgentRelease | undefined {
    return this.store.data.get(releaseKey(target, version));
  }

  /** Every release of `version`, one per target. */
  ofVersion(version: string): AgentRelease[] {
    return this.list().filter((r) => r.version === version);
  }

  bySha256(sha256: string): AgentRelease | undefined {
    return this.list().find((r) => r.sha256 === sha256);
  }

  /** Resolves once the release is on disk. */
  async add(release: AgentRelease): Promise<void> {
    this.store.data.set(releaseKey(release.target, release.version), release);
    await this.store.commit();
  }

  /** This coordinator's releases of `version`, after asking the parent (if any) for those it lacks. */
  async resolveVersion(version: string): Promise<AgentRelease[]> {
    if (this.parent) {
      try {
        const url = new URL('/api/v1/agent-releases', this.parent.http);
        url.searchParams.set('version', version);
        const res = await fetch(url, { headers: this.parent.token ? { authorization: `Bearer ${this.parent.token}` } : {} });
        if (!res.ok) throw new Error(`the parent answered ${res.status}`);
        const { releases } = z.object({ releases: z.array(AgentRelease).max(1000) }).parse(await res.json());
        const fresh = releases.filter((r) => r.version === version && !this.get(r.target, r.version));
        for (const r of fresh) this.store.data.set(releaseKey(r.target, r.version), r);
        if (fresh.length) await this.store.commit();
      } catch (err) {
        this.log.warn(`agent releases ${version} from the parent: ${errorMessage(err)}`);
      }
    }
    return this.ofVersion(version);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
