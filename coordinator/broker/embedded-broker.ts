import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../../shared/log.js';
import { errorMessage } from '../../shared/errors.js';
import { listen } from '../listen.js';
import { authorizePublish, authorizeSubscribe, type Principal } from './acl.js';

export interface BrokerOptions {
  host: string;
  port: number;
  tls?: { port: number; certFile: string; keyFile: string };
  /** Decides who a CONNECT is; undefined = rejected as bad username or password. */
  authenticate(clientId: string, username: string | undefined, password: string | undefined): Principal | undefined;
  /** Called for every refused CONNECT, PUBLISH or SUBSCRIBE, for health counters. */
  onDenied(what: string): void;
  log: Logger;
}

export interface RunningBroker {
  port: number;
  tlsPort: number | undefined;
  connectedClients(): number;
  /** Close the connection of `clientId`, if it is connected (a removed device must not keep its session). */
  disconnect(clientId: string): void;
  close(): Promise<void>;
}

/** The cluster's embedded MQTT 3.1.1 broker (aedes) on TCP and optionally TLS, with Flotilla's auth and ACL. */
export async function startEmbeddedBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const principals = new WeakMap<Client, Principal>();
  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      let who: Principal | undefined;
      try {
        who = opts.authenticate(client.id, username, password?.toString('utf8'));
      } catch (err) {
        // A throw here would end the process inside aedes' callback: a CONNECT that breaks the check is refused.
        opts.log.error(`CONNECT from client "${client.id}": authentication failed with ${errorMessage(err)}`);
      }
      if (!who) {
        opts.onDenied(`connect ${client.id}`);
        opts.log.warn(`refused CONNECT from client "${client.id}": unknown id or bad token`);
        const err = Object.assign(new Error('bad username or password'), { returnCode: 4 }) as AuthenticateError;
        return done(err, false);
      }
      principals.set(client, who);
      done(null, true);
    },
    authorizePublish(client, packet, callback) {
      // Broker-internal publishes (client null, e.g. will messages already checked at CONNECT) pass.
      const who = client ? principals.get(client) : ({ kind: 'internal' } as const);
      const verdict = who ? authorizePublish(who, packet.topic) : { ok: false as const, reason: 'unauthenticated' };
      if (verdict.ok) return callback(null);
      opts.onDenied(`publish ${packet.topic}`);
      opts.log.warn(`refused PUBLISH from "${client?.id}": ${verdict.reason}`);
      callback(new Error(verdict.reason));
    },
    authorizeSubscribe(client, sub, callback) {
      const who = principals.get(client);
      const verdict = who ? authorizeSubscribe(who, sub.topic) : { ok: false as const, reason: 'unauthenticated' };
      if (verdict.ok) return callback(null, sub);
      opts.onDenied(`subscribe ${sub.topic}`);
      opts.log.warn(`refused SUBSCRIBE from "${client.id}": ${verdict.reason}`);
      // [MQTT-3.9.3] a null subscription makes aedes answer this filter with SUBACK failure 0x80.
      callback(null, null);
    },
  });
  broker.on('clientError', (client, err) => opts.log.debug(`client ${client.id}: ${err.message}`));
  broker.on('connectionError', (client, err) => opts.log.debug(`connection ${client?.id}: ${err.message}`));

  const servers: (Server | TlsServer)[] = [];
  const tcp = createServer(broker.handle);
  const port = await listen(tcp, opts.port, opts.host);
  servers.push(tcp);
  let tlsPort: number | undefined;
  if (opts.tls) {
    const tls = createTlsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) }, broker.handle);
    tlsPort = await listen(tls, opts.tls.port, opts.host);
    servers.push(tls);
  }

  return {
    port,
    tlsPort,
    connectedClients: () => broker.connectedClients,
    disconnect: (clientId) => {
      const clients = (broker as unknown as { clients: Record<string, Client | undefined> }).clients;
      clients[clientId]?.close();
    },
    async close() {
      // Stop accepting first, then disconnect clients (aedes), then wait for the sockets to be gone.
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(closed);
    },
  };
}
