import { createServer, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { listen } from '../listen.js';
import { authorizePublish, authorizeSubscribe, type Principal } from './acl.js';
import { DurablePersistence } from './durable-persistence.js';
import { boundDelivery, type DeliveryStats } from './fair-delivery.js';

/** Where a PUBLISH goes once it has been handled here: a `$` topic no one may subscribe to. */
const HANDLED = '$flotilla/handled';

/** Bytes waiting in one client's outgoing buffer beyond which it is treated as not reading (fair-delivery.ts). */
export const OUTGOING_LIMIT_BYTES = 256 * 1024;
/**
 * The bound for the coordinator's own clients. They read in this same process, so their buffer grows only while the
 * event loop is busy elsewhere (a GC pause, a large API answer): at 10,000 devices reporting every second, 256 KiB
 * is ~40 ms of health, and the coordinator cut off from its own devices' reports was the worst outcome of all.
 */
const INTERNAL_OUTGOING_LIMIT_BYTES = 32 << 20;
/** A client whose socket does not drain for this long is disconnected (aedes' default is 60 s). */
const DRAIN_TIMEOUT_MS = 10_000;

export interface BrokerOptions {
  host: string;
  port: number;
  tls?: { port: number; certFile: string; keyFile: string };
  /** Sessions, queued messages, retained messages and wills are kept in `<dataDir>/broker/`. */
  dataDir: string;
  /** See OUTGOING_LIMIT_BYTES. */
  outgoingLimitBytes?: number;
  /** Decides who a CONNECT is; undefined = rejected as bad username or password. */
  authenticate(clientId: string, username: string | undefined, password: string | undefined): Principal | undefined;
  /** Called for every refused CONNECT (subject: the client id), PUBLISH or SUBSCRIBE (subject: the topic or filter). */
  onDenied(action: 'connect' | 'publish' | 'subscribe', subject: string): void;
  log: Logger;
}

export interface RunningBroker {
  port: number;
  tlsPort: number | undefined;
  connectedClients(): number;
  /** Messages dropped and clients disconnected by the per-client delivery bounds. */
  delivery: DeliveryStats;
  /** Connected clients by principal kind (device, child, internal). */
  clientsByKind(): Record<Principal['kind'], number>;
  /** Close the connection of `clientId`, if it is connected (a removed device must not keep its session). */
  disconnect(clientId: string): void;
  /**
   * Hear the PUBLISHes matching `filter` in this process, from aedes' own emitter: no socket, no session, no second
   * MQTT encode and parse. At most once and unacknowledged, so only for QoS 0 kinds (health).
   */
  hear(filter: string, deliver: (topic: string, payload: Buffer) => void): Promise<void>;
  /** Until called, only the coordinator's own clients may connect (the rest get CONNACK 3, server unavailable). */
  acceptClients(): void;
  close(): Promise<void>;
}

/** The cluster's embedded MQTT 3.1.1 broker (aedes) on TCP and optionally TLS, with Flotilla's auth and ACL. */
export async function startEmbeddedBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const principals = new WeakMap<Client, Principal>();
  const delivery: DeliveryStats = { droppedQos0: 0, slowDisconnects: 0, queueFull: 0 };
  let accepting = false;
  // Assigned before any client can connect (the listeners start below).
  let broker!: Aedes;
  /** The PUBLISH was dealt with here: aedes goes on to acknowledge it and publishes nothing. */
  const handled = (packet: PublishPacket) => {
    packet.topic = HANDLED;
    packet.retain = false;
  };
  const persistence = new DurablePersistence({
    dir: join(opts.dataDir, 'broker'),
    log: opts.log.child('persistence'),
    onQueueFull: (clientId) => {
      if (delivery.queueFull++ % 1000 === 0) opts.log.warn(`session queue of "${clientId}" is full: new QoS 1 messages for it are dropped (${delivery.queueFull} so far)`);
    },
  });
  /** Each client's last retained durable publish, which its next publishes wait for. */
  const retainedInFlight = new WeakMap<Client, Promise<void>>();
  // aedes' publish(packet, client, done) (its typings omit the client, which stamps the publisher's id).
  const publishAs = (p: PublishPacket, c: Client, done: (err?: Error) => void) =>
    (broker.publish as unknown as (p: PublishPacket, c: Client, done: (err?: Error) => void) => void).call(broker, p, c, done);
  broker = await Aedes.createBroker({
    persistence,
    drainTimeout: DRAIN_TIMEOUT_MS,
    authenticate(client, username, password, done) {
      let who: Principal | undefined;
      try {
        who = opts.authenticate(client.id, username, password?.toString('utf8'));
      } catch (err) {
        // A throw here would end the process inside aedes' callback: a CONNECT that breaks the check is refused.
        opts.log.error(`CONNECT from client "${client.id}": authentication failed with ${errorMessage(err)}`);
      }
      if (!who) {
        opts.onDenied('connect', client.id);
        opts.log.warn(`refused CONNECT from client "${client.id}": unknown id or bad token`);
        const err = Object.assign(new Error('bad username or password'), { returnCode: 4 }) as AuthenticateError;
        return done(err, false);
      }
      if (who.kind !== 'internal' && !accepting) {
        // [MQTT-3.2.2.3] 0x03 server unavailable: the coordinator's own consumers are not subscribed yet, and what a
        // device or child sent now (a session's spool replay) would reach no one. Clients retry with backoff.
        opts.log.debug(`CONNECT from "${client.id}" before the coordinator is ready: server unavailable`);
        return done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as AuthenticateError, false);
      }
      principals.set(client, who);
      done(null, true);
    },
    authorizePublish(client, packet, callback) {
      // Broker-internal publishes (client null) pass; a will is checked here with its client when it fires.
      const who = client ? principals.get(client) : ({ kind: 'internal' } as const);
      const verdict = who ? authorizePublish(who, packet.topic) : { ok: false as const, reason: 'unauthenticated' };
      if (!verdict.ok) {
        opts.onDenied('publish', packet.topic);
        opts.log.warn(`refused PUBLISH from "${client?.id}": ${verdict.reason} (acknowledged and dropped)`);
        // Answered and dropped, connection kept: refusing by disconnecting made mqtt.js resend the same QoS 1
        // message on every reconnect, wedging the session for good (finding 5).
        handled(packet);
        return callback(null);
      }
      // Acknowledged means durable: aedes writes PUBACK before it publishes, so a QoS 1 PUBLISH from the wire (it
      // has a message id; wills do not) is published, and its retained copy and session queues fsynced, first.
      // Publishes of one client run concurrently (their journal records share commits, in order) but wait for its
      // retained one in flight, which takes an extra fsync: a detail is not overtaken by the event that follows it.
      if (client && packet.qos === 1 && packet.messageId !== undefined) {
        const gate = retainedInFlight.get(client) ?? Promise.resolve();
        const done = gate.then(() => new Promise<void>((resolve) => {
          publishAs({ ...packet }, client, (err) => {
            if (err) callback(err);
            else {
              handled(packet);
              callback(null);
            }
            resolve();
          });
        }));
        if (packet.retain) retainedInFlight.set(client, done);
        return;
      }
      callback(null);
    },
    authorizeSubscribe(client, sub, callback) {
      const who = principals.get(client);
      const verdict = who ? authorizeSubscribe(who, sub.topic) : { ok: false as const, reason: 'unauthenticated' };
      if (verdict.ok) return callback(null, sub);
      opts.onDenied('subscribe', sub.topic);
      opts.log.warn(`refused SUBSCRIBE from "${client.id}": ${verdict.reason}`);
      // [MQTT-3.9.3] a null subscription makes aedes answer this filter with SUBACK failure 0x80.
      callback(null, null);
    },
  });
  broker.on('clientError', (client, err) => opts.log.debug(`client ${client.id}: ${err.message}`));
  broker.on('connectionError', (client, err) => opts.log.debug(`connection ${client?.id}: ${err.message}`));

  const servers: (Server | TlsServer)[] = [];
  const handle = (conn: Socket) => {
    const client = broker.handle(conn);
    acceptAnyOrder(client);
    const limit = opts.outgoingLimitBytes ?? OUTGOING_LIMIT_BYTES;
    boundDelivery(client, () => (principals.get(client)?.kind === 'internal' ? INTERNAL_OUTGOING_LIMIT_BYTES : limit), delivery, opts.log);
  };
  const tcp = createServer(handle);
  const port = await listen(tcp, opts.port, opts.host);
  servers.push(tcp);
  let tlsPort: number | undefined;
  if (opts.tls) {
    const tls = createTlsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, handle);
    tlsPort = await listen(tls, opts.tls.port, opts.host);
    servers.push(tls);
  }

  return {
    port,
    tlsPort,
    connectedClients: () => broker.connectedClients,
    delivery,
    acceptClients: () => void (accepting = true),
    hear: (filter, deliver) =>
      new Promise<void>((resolve, reject) =>
        broker.subscribe(
          filter,
          (packet, done) => {
            // The emitter waits for done: answered first, so a throw in a consumer never stalls the broker.
            done();
            deliver(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload));
          },
          (err?: Error) => (err ? reject(err) : resolve()),
        ),
      ),
    clientsByKind: () => {
      const counts: Record<Principal['kind'], number> = { device: 0, child: 0, internal: 0 };
      for (const client of Object.values(clientsOf(broker))) {
        const who = client && principals.get(client);
        if (who) counts[who.kind]++;
      }
      return counts;
    },
    disconnect: (clientId) => clientsOf(broker)[clientId]?.close(),
    async close() {
      // Stop accepting first, then disconnect clients (aedes), then wait for the sockets to be gone.
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(closed);
      await persistence.destroy();
    },
  };
}

/**
 * aedes drops a message to a client whose broker counter is not above the highest it delivered to it (a duplicate
 * filter for clustered brokers). With durable publishes, messages of different publishers finish in a different
 * order than they started (a retained one waits for its fsync), so that filter would drop the overtaken one. One
 * broker has no duplicate paths; overlapping subscriptions may then each deliver a copy, as MQTT 3.1.1 allows.
 */
function acceptAnyOrder(client: Client): void {
  const never = new Proxy(Object.create(null) as Record<string, number>, { get: () => 0, set: () => true });
  (client as unknown as { duplicates: Record<string, number> }).duplicates = never;
}

/** aedes keeps its connected clients by id in `clients` (not in its typings). */
function clientsOf(broker: Aedes): Record<string, Client | undefined> {
  return (broker as unknown as { clients: Record<string, Client | undefined> }).clients;
}
