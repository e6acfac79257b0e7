import type { ClusterSummary, ClusterTree, DeviceList } from '../../../shared/api.js';
import type { RolloutList } from '../../../shared/rollout.js';
import type { StreamClusters, StreamDevices, StreamEvents, StreamHeartbeat, StreamHello, StreamRollouts } from '../../../shared/stream.js';
import { ApiError, apiGet } from './api.js';
import type { FleetStore } from './store.js';

/** Reconnect delay after the stream failed outright (EventSource gives up on HTTP errors). */
const RETRY_MS = 2000;

/**
 * Keep `store` live over `GET /api/v1/stream`. EventSource reconnects by itself after a dropped connection; each
 * `hello` then triggers a fresh snapshot. Two gaps it does not cover are handled here: an HTTP error ends it for
 * good (we find out whether it was a 401 and otherwise retry), and a silently dead connection sends no error (a
 * watchdog closes it when heartbeats stop). `unauthorized` is called when the token is missing or wrong. The cluster
 * tree is fetched with the snapshot and again on each `clusters` message (one request at a time, latest wins).
 */
export function connectLive(store: FleetStore, token: string | undefined, unauthorized: (message: string) => void): { close(): void } {
  let es: EventSource | undefined;
  let watchdog: number | undefined;
  let retry: number | undefined;
  let closed = false;

  // Bodies of shared/stream.ts, from the coordinator that served this page (see apiGet on validation).
  const parse = <T>(e: Event): T => JSON.parse((e as MessageEvent<string>).data) as T;

  const reopen = (delayMs: number) => {
    es?.close();
    clearTimeout(watchdog);
    store.setConnection('lost');
    if (!closed) retry = window.setTimeout(open, delayMs);
  };

  const arm = (heartbeatMs: number) => {
    clearTimeout(watchdog);
    watchdog = window.setTimeout(() => reopen(0), 3 * heartbeatMs);
  };

  const failed = (err: unknown) => {
    if (err instanceof ApiError && err.status === 401) {
      close();
      unauthorized(err.message);
    } else reopen(RETRY_MS);
  };

  const resync = async () => {
    store.beginSnapshot();
    try {
      const [list, cluster, tree, rollouts] = await Promise.all([
        apiGet<DeviceList>('/api/v1/devices', token),
        apiGet<ClusterSummary>('/api/v1/cluster', token),
        apiGet<ClusterTree>('/api/v1/clusters', token),
        apiGet<RolloutList>('/api/v1/rollouts', token),
      ]);
      store.applyRollouts(rollouts.rollouts, true);
      store.applySnapshot(list.devices, cluster, tree.root);
    } catch (err) {
      failed(err);
    }
  };

  // A burst of `clusters` messages costs at most two requests: the one in flight and one after it.
  let treeInFlight = false;
  let treeAgain = false;
  const refetchTree = async () => {
    if (treeInFlight) return void (treeAgain = true);
    treeInFlight = true;
    try {
      do {
        treeAgain = false;
        store.applyClusters((await apiGet<ClusterTree>('/api/v1/clusters', token)).root);
      } while (treeAgain && !closed);
    } catch (err) {
      failed(err);
    } finally {
      treeInFlight = false;
    }
  };

  function open() {
    const source = new EventSource(`/api/v1/stream${token ? `?token=${encodeURIComponent(token)}` : ''}`);
    es = source;
    let heartbeatMs = 5000;
    source.addEventListener('hello', (e) => {
      const hello = parse<StreamHello>(e);
      heartbeatMs = hello.heartbeatMs;
      arm(heartbeatMs);
      store.setServerTime(hello.serverTime);
      store.setConnection('live');
      void resync();
    });
    source.addEventListener('devices', (e) => {
      store.applyDevices(parse<StreamDevices>(e));
    });
    source.addEventListener('events', (e) => {
      store.applyEvents(parse<StreamEvents>(e).events);
    });
    source.addEventListener('rollout', (e) => {
      store.applyRollouts(parse<StreamRollouts>(e).rollouts);
    });
    source.addEventListener('clusters', (e) => {
      parse<StreamClusters>(e);
      void refetchTree();
    });
    source.addEventListener('heartbeat', (e) => {
      const beat = parse<StreamHeartbeat>(e);
      arm(heartbeatMs);
      store.setServerTime(beat.serverTime, beat.rates);
    });
    source.onerror = () => {
      clearTimeout(watchdog);
      store.setConnection('lost');
      // CLOSED means EventSource will not retry (an HTTP error status): ask the API why.
      if (source.readyState === EventSource.CLOSED) apiGet<ClusterSummary>('/api/v1/cluster', token).then(() => reopen(RETRY_MS), failed);
    };
  }

  function close() {
    closed = true;
    es?.close();
    clearTimeout(watchdog);
    clearTimeout(retry);
  }

  open();
  return { close };
}
