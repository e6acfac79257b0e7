import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { basename, join } from 'node:path';
import { FLOTILLA_VERSION } from '../shared/version.js';
import { deviceTopic } from '../shared/topics.js';
import { UPLINK, upTopic } from '../shared/fleet-topics.js';
import type { Labels } from '../shared/label-syntax.js';
import type { LabelPatch } from '../shared/labels.js';
import { encode } from '../shared/messages.js';
import type { Logger } from '../shared/log.js';
import { ContentStore, type StoreOptions } from '../shared/durable/index.js';
import { startEmbeddedBroker, type RunningBroker } from './broker/embedded-broker.js';
import type { Principal } from './broker/acl.js';
import { ClusterBus } from './cluster-bus.js';
import { mountDashboard, type Dashboard } from './dashboard/index.js';
import { DeviceDirectory } from './fleet/directory.js';
import { addApiRoutes } from './http/api.js';
import { Router } from './http/router.js';
import { startHttpServer } from './http/server.js';
import { Registry } from './registry/registry.js';
import { ModuleServer, StepRegistry, addStepRoutes } from './steps/index.js';
import { Revocations, addKeyRoutes } from './keys/index.js';
import type { TrustedKeys } from '../shared/signing.js';
import { Children, Federation, addFederationRoutes, openUplinkSpool, type ParentLink } from './federation/index.js';
import { DesiredStates, addDesiredRoutes } from './desired/index.js';
import { Rollouts, addRolloutRoutes, changeEnv } from './rollouts/index.js';
import { ArtifactStore, ReleaseRegistry, addReleaseRoutes } from './releases/index.js';
import { CoordinatorMetrics, addMetricsRoute } from './metrics/index.js';
import { Dispatch } from './mqtt/dispatch.js';
import { FleetLogs, addLogRoutes, localLogs } from './logs/index.js';

export interface CoordinatorOptions {
  host: string;
  mqttPort: number;
  httpPort: number;
  dataDir: string;
  cluster: string;
  apiToken?: string;
  /** Pre-shared device tokens, `{ id: token }`, merged into the registry at start. */
  tokens?: Record<string, string>;
  tls?: { port: number; certFile: string; keyFile: string };
  log: Logger;
  /** How often silent devices are checked for missed heartbeats. */
  sweepMs?: number;
  /** Make this coordinator a child of another (docs/federation.md). */
  parent?: ParentLink;
  /** Use this external MQTT 3.1.1 broker instead of the embedded one (its own auth and ACL apply). */
  broker?: { url: string; username?: string; password?: string };
  /** Pre-shared child coordinator tokens, `{ name: token }`, merged into clusters.json at start. */
  childTokens?: Record<string, string>;
  /** Minimum milliseconds between two summaries sent to the parent (default 1000). */
  summaryMs?: number;
  /** Uplink messages spooled while the parent is unreachable (default 10000). */
  bufferLimit?: number;
  /** Uplink bytes spooled while the parent is unreachable (default 64 MiB). */
  spoolBytes?: number;
  /** How the data dir's files are written (shared/durable): group commit, write path, observer. */
  store?: Omit<StoreOptions, 'log'>;
  /** Trusted publisher keys: step uploads they did not sign are refused (none: every upload is accepted). */
  trust?: TrustedKeys;
  /** The parent's HTTP API: agent releases and artifacts this cluster lacks are fetched from it once (and kept). */
  parentHttp?: { http: string; token?: string };
}

/** The coordinator's internal MQTT user; its password is random per start and never leaves the process. */
const INTERNAL_USER = '$flotilla-coordinator';

/**
 * A cluster coordinator: embedded broker, device directory, federation and the HTTP API, wired together.
 * Start-up order (`listen`): broker → the coordinator's client → every part built (no I/O) → the dispatch and each
 * part's subscriptions → HTTP → resumed rollouts. Nothing that answers a message (a queued request on the bridge's persistent session,
 * a device's report) is subscribed before everything it reads exists.
 */
export class Coordinator {
  readonly startedAt = Date.now();
  /** What this coordinator knows about devices, own and below, and its one change feed. */
  readonly directory: DeviceDirectory;
  readonly router = new Router();
  /** The recent log lines of this cluster's own devices (coordinator/logs). */
  readonly logs = new FleetLogs();
  private broker: RunningBroker | undefined;
  private bus!: ClusterBus;
  federation!: Federation;
  modules!: ModuleServer;
  steps!: StepRegistry;
  /** The fleet's revoked publisher keys as this coordinator holds them (coordinator/keys). */
  revocations!: Revocations;
  desired!: DesiredStates;
  private http!: Server;
  private sweeper!: NodeJS.Timeout;
  dashboard!: Dashboard;
  rollouts!: Rollouts;
  releases!: ReleaseRegistry;
  artifacts!: ArtifactStore;
  mqttPort = 0;
  mqttsPort: number | undefined;
  httpPort = 0;

  private constructor(
    readonly opts: CoordinatorOptions,
    readonly metrics: CoordinatorMetrics,
    readonly registry: Registry,
    readonly children: Children,
  ) {
    this.directory = new DeviceDirectory(opts.cluster, registry);
  }

  static async start(opts: CoordinatorOptions): Promise<Coordinator> {
    // First, so that the store's commits are measured from the first one.
    const metrics = new CoordinatorMetrics();
    const registry = await Registry.open(opts.dataDir, storeOptions(opts, metrics));
    await Promise.all(Object.entries(opts.tokens ?? {}).map(([id, token]) => registry.setToken(id, token)));
    const children = await Children.open(opts.dataDir, storeOptions(opts, metrics));
    await Promise.all(Object.entries(opts.childTokens ?? {}).map(([name, token]) => children.enroll(name, token)));
    const c = new Coordinator(opts, metrics, registry, children);
    await c.listen();
    return c;
  }

  private async listen(): Promise<void> {
    const { opts, metrics, directory } = this;
    const local = await this.startBroker();
    this.bus = await ClusterBus.connect({
      url: local.url,
      clientId: `${INTERNAL_USER}-${process.pid}`,
      username: local.username ?? '',
      password: local.password ?? '',
      log: opts.log.child('bus'),
      handlers: {
        status: (id, msg) => this.known(id) && directory.live.status(id, msg.online),
        health: (id, msg) => this.known(id) && directory.live.health(id, msg),
        event: (id, msg) => this.known(id) && directory.live.event(id, msg),
        log: (id, line) => this.known(id) && this.logs.intake(id, line),
        invalid: (id, topic, reason) => {
          metrics.invalid.inc({ source: 'device' });
          if (id && this.known(id)) directory.live.invalid(id);
          opts.log.warn(`dropped invalid message on ${topic}: ${reason}`);
        },
      },
    });
    const { client } = this.bus;
    const dispatch = new Dispatch(client, { received: (kind) => metrics.messagesIn.inc({ kind }), sent: (kind) => metrics.messagesOut.inc({ kind }) });

    // Every part, built without I/O, before anything can reach it.
    this.desired = new DesiredStates(this.registry, client);
    // Step modules: failures counted under the directory's name, `modules` (a module's own name is its sha256).
    const store = new ContentStore(join(opts.dataDir, 'modules'), '.wasm', storeOptions(opts, metrics).observer);
    this.steps = await StepRegistry.open(opts.dataDir, storeOptions(opts, metrics));
    this.revocations = await Revocations.open({ dataDir: opts.dataDir, store: storeOptions(opts, metrics), client, isChild: opts.parent !== undefined, log: opts.log.child('keys') });
    this.dashboard = mountDashboard({
      cluster: opts.cluster,
      router: this.router,
      directory,
      remoteHistory: (id) => (directory.below.devices.has(id) ? this.federation.remoteHistory(id) : undefined),
      logs: this.logs,
    });
    // Counted with the other store failures, under the spool's fixed name (its log file's name changes per generation).
    const uplinkFailed = () => metrics.storeWriteFailures.inc({ file: 'uplink' });
    const spool = opts.parent ? await openUplinkSpool(opts.dataDir, { messages: opts.bufferLimit ?? 10_000, bytes: opts.spoolBytes }, opts.log.child('bridge'), uplinkFailed) : undefined;
    const logReads = { logs: this.logs, droppedAtAgent: (id: string) => directory.live.get(id)?.health?.logsDropped ?? 0 };
    this.federation = new Federation(
      { cluster: opts.cluster, version: FLOTILLA_VERSION, parent: opts.parent, summaryMs: opts.summaryMs ?? 1000, log: opts.log.child('federation') },
      {
        client,
        dispatch,
        bus: this.bus,
        local: { ...local, clientId: '' },
        spool,
        directory,
        metrics,
        applyDesired: (devices, op) => this.desired.apply(devices, op.spec, op.modules),
        desiredOf: (id) => this.desired.get(id),
        historyOf: (id) => this.dashboard.history.get(id),
        logsOf: (id, query) => localLogs(logReads, id, query),
        patchLabels: (id, patch) => this.patchLabels(id, patch),
        // Requests reach the shares only after start(), by which time the rollouts exist.
        shares: { open: (msg, upstream) => this.rollouts.shares.open(msg, upstream), order: (rollout, order) => this.rollouts.shares.order(rollout, order) },
        onRolloutReport: (path, msg) => this.rollouts.reported(path, msg),
      },
    );
    this.modules = new ModuleServer(client, store, opts.parent !== undefined, metrics, opts.log.child('modules'));
    metrics.watch({ directory, broker: this.broker });
    addFederationRoutes(this.router, this.federation, directory, opts.broker ? undefined : this.children);
    addStepRoutes(this.router, this.steps, store, opts.trust ?? new Map(), () => this.revocations.keyIds());
    addKeyRoutes(this.router, this.revocations);
    this.releases = await ReleaseRegistry.open(opts.dataDir, storeOptions(opts, metrics), opts.parentHttp);
    // An artifact's own name holds its sha256: its failures are counted under the directory's name.
    const artifactsDir = join(opts.dataDir, 'agent-artifacts');
    this.artifacts = new ArtifactStore(artifactsDir, opts.log.child('releases'), opts.parentHttp?.http, () => metrics.storeWriteFailures.inc({ file: basename(artifactsDir) }));
    addReleaseRoutes(this.router, this.releases, this.artifacts, opts.trust ?? new Map(), () => this.revocations.keyIds());
    addDesiredRoutes(this.router, { federation: this.federation, directory, steps: this.steps, desired: this.desired });
    this.rollouts = await Rollouts.open({
      dataDir: opts.dataDir,
      cluster: opts.cluster,
      directory,
      desiredOf: (id) => this.desired.get(id),
      applyDesired: async (id, spec, modules, guard, agent) => {
        const { revisions, errors } = await this.desired.apply([id], spec, modules, guard, agent);
        if (revisions[id] === undefined) throw new Error(errors[id] ?? 'desired state not applied');
        return revisions[id];
      },
      env: changeEnv({ steps: this.steps, releases: this.releases, revoked: () => this.revocations.keyIds(), httpPort: () => this.httpPort }),
      request: (path, target, op, timeoutMs) => this.federation.request(path, target, op, timeoutMs),
      publishUp: (msg) => client.publish(upTopic([], UPLINK.rollout), encode(msg), { qos: 1 }),
      store: storeOptions(opts, metrics),
      log: opts.log.child('rollouts'),
    });
    addRolloutRoutes(this.router, this.rollouts);
    this.rollouts.watch((status) => this.dashboard.stream.rolloutChanged(status));
    addApiRoutes(this.router, {
      cluster: opts.cluster,
      version: FLOTILLA_VERSION,
      startedAt: this.startedAt,
      registry: this.registry,
      directory,
      counts: async () => ({ invalidMessages: await metrics.total(metrics.invalid), deniedRequests: await metrics.total(metrics.denied) }),
      onEnrolled: (id) => directory.enrolled(id),
      onRemoved: (id) => this.removeDevice(id),
      patchLabels: (id, patch) => this.patchLabels(id, patch),
      forwardLabels: (qid, patch) => this.federation.remoteLabels(qid, patch),
    });
    addLogRoutes(this.router, {
      ...logReads,
      cluster: opts.cluster,
      isLocal: (id) => this.known(id),
      remote: (id, query) => (directory.below.devices.has(id) ? this.federation.remoteLogs(id, query) : undefined),
    });
    addMetricsRoute(this.router, metrics);

    // Now the messages: one dispatch, then each part's subscriptions.
    dispatch.start();
    const republished = await this.desired.republishAll();
    if (republished) opts.log.info(`re-published the desired state of ${republished} device(s)`);
    await this.bus.start(dispatch, this.broker);
    await this.modules.start(dispatch);
    // Before the bridge: the stored list is on our broker, and the parent's has a reader, when it comes up.
    await this.revocations.start(dispatch);
    await this.federation.start();
    const http = await startHttpServer({
      host: opts.host,
      port: opts.httpPort,
      router: this.router,
      apiToken: opts.apiToken,
      log: opts.log.child('http'),
      onError: (status) => metrics.httpErrors.inc({ status }),
    });
    this.http = http.server;
    this.httpPort = http.port;
    this.sweeper = setInterval(() => directory.live.sweep(), opts.sweepMs ?? 1000);
    // Last: a resumed rollout may change desired states at once.
    await this.rollouts.start();
    // Last: devices and children connect once everything that consumes their messages is in place.
    this.broker?.acceptClients();
  }

  /** The embedded broker (unless an external one is configured); resolves with how the coordinator reaches it. */
  private async startBroker(): Promise<{ url: string; username?: string; password?: string }> {
    const { opts } = this;
    if (opts.broker) {
      this.mqttPort = Number(new URL(opts.broker.url).port || 1883);
      return opts.broker;
    }
    const internalPassword = randomBytes(24).toString('base64url');
    this.broker = await startEmbeddedBroker({
      host: opts.host,
      port: opts.mqttPort,
      tls: opts.tls,
      dataDir: opts.dataDir,
      log: opts.log.child('broker'),
      onDenied: (action) => this.metrics.denied.inc({ action }),
      authenticate: (clientId, username, password): Principal | undefined => {
        if (username === INTERNAL_USER) return password === internalPassword ? { kind: 'internal' } : undefined;
        if (password === undefined || username === undefined) return undefined;
        const child = this.children.authenticate(clientId, username, password);
        if (child) return { kind: 'child', name: child };
        // A device's client id, username and token must agree: device A cannot connect as device B.
        if (username !== clientId || !this.registry.authenticate(clientId, password)) return undefined;
        return { kind: 'device', id: clientId };
      },
    });
    this.mqttPort = this.broker.port;
    this.mqttsPort = this.broker.tlsPort;
    return { url: `mqtt://127.0.0.1:${this.mqttPort}`, username: INTERNAL_USER, password: internalPassword };
  }

  /**
   * A device removed from the registry loses its session at once (on the embedded broker; an external broker's
   * own ACL must refuse it) and its retained status and desired state are cleared, so nothing of it lingers.
   */
  private removeDevice(id: string): void {
    this.directory.removed(id);
    this.logs.forget(id);
    this.broker?.disconnect(id);
    for (const kind of ['status', 'desired'] as const) {
      this.bus.client.publish(deviceTopic(id, kind), Buffer.alloc(0), { qos: 1, retain: true });
    }
  }

  /** An own device's labels, changed durably, then its summary goes out again. */
  private async patchLabels(id: string, patch: LabelPatch): Promise<Labels> {
    const labels = await this.registry.patchLabels(id, patch);
    this.directory.labelled(id);
    return labels;
  }

  /** Messages from ids not in the registry (e.g. a device removed while connected) are ignored. */
  private known(id: string): boolean {
    return this.directory.isLocal(id);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.rollouts.stop();
    this.dashboard.close();
    // Keep the last-seen times of devices still online, so a restarted coordinator shows when it last heard them.
    for (const d of this.directory.live.all()) if (d.online) this.registry.update(d.id, { lastSeen: d.lastSeen });
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.federation.stop();
    await this.bus.close();
    await this.broker?.close();
    await Promise.all([this.registry.close(), this.children.close(), this.steps.close(), this.revocations.close(), this.releases.close()]);
  }
}

/**
 * The options of every file in the data dir; commits are timed into `flotilla_store_write_seconds`, failed writes
 * counted into `flotilla_store_write_failures_total` by the file's base name (fixed names, never a wire id).
 */
function storeOptions(opts: CoordinatorOptions, metrics: CoordinatorMetrics): StoreOptions {
  const observer = opts.store?.observer;
  return {
    log: opts.log.child('store'),
    ...opts.store,
    observer: {
      commit: (ms, bytes) => {
        metrics.storeWrite.observe(ms / 1000);
        observer?.commit?.(ms, bytes);
      },
      failure: (err, file) => {
        metrics.storeWriteFailures.inc({ file: basename(file) });
        observer?.failure?.(err, file);
      },
    },
  };
}
