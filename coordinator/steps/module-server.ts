import type { MqttClient } from 'mqtt';
import { errorMessage } from '../../shared/errors.js';
import { LINK, linkTopic } from '../../shared/fleet-topics.js';
import type { Logger } from '../../shared/log.js';
import { decodeFetchRequest, deviceBase, fetchModule, fetchTopic, moduleTopic } from '../../shared/module-fetch.js';
import { ROOT } from '../../shared/topics.js';
import type { ContentStore } from '../../shared/durable/index.js';

export interface ModuleServerStats {
  /** Modules sent to agents and to child coordinators. */
  servedDevices: number;
  servedChildren: number;
  /** Modules fetched from the parent (each digest at most once while it is cached). */
  fetchedUpstream: number;
  bytesUpstream: number;
  notFound: number;
  invalidRequests: number;
}

/**
 * Serves step modules over MQTT (shared/module-fetch.ts) to the cluster's agents (`flotilla/d/<id>/fetch`) and to
 * child coordinators (`flotilla/link/<child>/fetch`), from the content-addressed store. A module it lacks is fetched
 * once from the parent (concurrent requests share that one fetch) and cached, so each module crosses each link at
 * most once per version.
 */
export class ModuleServer {
  readonly stats: ModuleServerStats = { servedDevices: 0, servedChildren: 0, fetchedUpstream: 0, bytesUpstream: 0, notFound: 0, invalidRequests: 0 };
  private readonly inflight = new Map<string, Promise<Uint8Array | undefined>>();

  constructor(
    private readonly client: MqttClient,
    private readonly store: ContentStore,
    private readonly hasParent: boolean,
    private readonly log: Logger,
    private readonly upstreamTimeoutMs = 30_000,
  ) {
    client.subscribe([fetchTopic(`${ROOT}/d/+`), fetchTopic(`${LINK}/+`)], { qos: 1 });
    client.on('message', (topic, payload) => {
      const levels = topic.split('/');
      if (levels.length !== 4 || levels[3] !== 'fetch') return;
      if (levels[1] === 'd') void this.serve(deviceBase(levels[2]), payload, 'device');
      else if (levels[1] === 'link') void this.serve(linkTopic(levels[2]), payload, 'child');
    });
  }

  private async serve(base: string, payload: Buffer, who: 'device' | 'child'): Promise<void> {
    let sha256: string;
    try {
      sha256 = decodeFetchRequest(payload, `fetch request on ${base}`).sha256;
    } catch (err) {
      this.stats.invalidRequests++;
      this.log.warn(errorMessage(err));
      return;
    }
    const bytes = await this.module(sha256);
    if (!bytes) this.stats.notFound++;
    else if (who === 'device') this.stats.servedDevices++;
    else this.stats.servedChildren++;
    // An empty payload says "not available" (the fetcher fails fast instead of timing out).
    this.client.publish(moduleTopic(base, sha256), Buffer.from(bytes ?? new Uint8Array()), { qos: 1 });
  }

  /** From the store, else once from the parent (then cached). */
  module(sha256: string): Promise<Uint8Array | undefined> {
    const running = this.inflight.get(sha256);
    if (running) return running;
    const p = (async () => {
      const cached = await this.cached(sha256);
      if (cached || !this.hasParent) return cached;
      try {
        const bytes = await fetchModule(this.client, fetchTopic(LINK), moduleTopic(LINK, sha256), sha256, this.upstreamTimeoutMs);
        this.stats.fetchedUpstream++;
        this.stats.bytesUpstream += bytes.length;
        await this.store.put(bytes);
        return bytes;
      } catch (err) {
        this.log.warn(`module ${sha256} from the parent: ${errorMessage(err)}`);
        return undefined;
      }
    })().finally(() => this.inflight.delete(sha256));
    this.inflight.set(sha256, p);
    return p;
  }

  /**
   * A corrupt copy (already removed) or an unreadable one counts as absent: fetched again from the parent where there
   * is one, else answered "not available".
   */
  private async cached(sha256: string): Promise<Uint8Array | undefined> {
    try {
      return await this.store.get(sha256);
    } catch (err) {
      this.log.warn(`module ${sha256} in the store: ${errorMessage(err)}`);
      return undefined;
    }
  }
}
