import type { MqttClient } from 'mqtt';
import { errorMessage } from '../../shared/errors.js';
import { LINK, linkTopic } from '../../shared/fleet-topics.js';
import type { Logger } from '../../shared/log.js';
import { decodeFetchRequest, deviceBase, fetchModule, fetchTopic, moduleTopic, type FetchClient } from '../../shared/module-fetch.js';
import type { CoordinatorMetrics } from '../metrics/metrics.js';
import type { Dispatch } from '../mqtt/dispatch.js';
import { ROOT } from '../../shared/topics.js';
import type { ContentStore } from '../../shared/durable/index.js';

/**
 * Serves step modules over MQTT (shared/module-fetch.ts) to the cluster's agents (`flotilla/d/<id>/fetch`) and to
 * child coordinators (`flotilla/link/<child>/fetch`), from the content-addressed store. A module it lacks is fetched
 * once from the parent (concurrent requests share that one fetch) and cached, so each module crosses each link at
 * most once per version.
 */
export class ModuleServer {
  private readonly inflight = new Map<string, Promise<Uint8Array | undefined>>();
  /** Listeners of the upstream fetches in flight (shared/module-fetch.ts), fed by the dispatch's `module_reply` row. */
  private readonly replyListeners = new Set<(topic: string, payload: Buffer) => void>();
  private readonly upstream: FetchClient;

  constructor(
    private readonly client: MqttClient,
    private readonly store: ContentStore,
    private readonly hasParent: boolean,
    private readonly metrics: CoordinatorMetrics,
    private readonly log: Logger,
    private readonly upstreamTimeoutMs = 30_000,
  ) {
    const replies = this.replyListeners;
    this.upstream = {
      subscribeAsync: (topic, opts) => client.subscribeAsync(topic, opts),
      unsubscribeAsync: (topic) => client.unsubscribeAsync(topic),
      publishAsync: (topic, payload, opts) => client.publishAsync(topic, payload, opts),
      on: (_event, listener) => replies.add(listener),
      removeListener: (_event, listener) => replies.delete(listener),
    };
  }

  /** Take fetch requests from devices and children, and replies from the parent, off the coordinator's dispatch. */
  async start(dispatch: Dispatch): Promise<void> {
    dispatch.on('device_fetch', (route, payload) => void this.serve(deviceBase(route.id), payload, 'device'));
    dispatch.on('child_fetch', (route, payload) => void this.serve(linkTopic(route.child), payload, 'child'));
    dispatch.on('module_reply', (_route, payload, topic) => {
      for (const listener of this.replyListeners) listener(topic, payload);
    });
    await this.client.subscribeAsync([fetchTopic(`${ROOT}/d/+`), fetchTopic(`${LINK}/+`)], { qos: 1 });
  }

  private async serve(base: string, payload: Buffer, who: 'device' | 'child'): Promise<void> {
    let sha256: string;
    try {
      sha256 = decodeFetchRequest(payload, `fetch request on ${base}`).sha256;
    } catch (err) {
      this.metrics.invalid.inc({ source: 'fetch' });
      this.log.warn(errorMessage(err));
      return;
    }
    const bytes = await this.module(sha256);
    if (!bytes) this.metrics.modulesNotFound.inc();
    else this.metrics.modulesServed.inc({ to: who });
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
        const bytes = await fetchModule(this.upstream, fetchTopic(LINK), moduleTopic(LINK, sha256), sha256, this.upstreamTimeoutMs);
        this.metrics.modulesUpstream.inc();
        this.metrics.modulesUpstreamBytes.inc(bytes.length);
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
