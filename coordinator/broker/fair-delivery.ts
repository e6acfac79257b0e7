import type { Client } from 'aedes';
import type { Logger } from '../../shared/log.js';

/** What the delivery bound did, for health and metrics. */
export interface DeliveryStats {
  /** QoS 0 messages not sent to a client whose outgoing buffer was over the bound. */
  droppedQos0: number;
  /** Clients disconnected because a QoS 1 message found their outgoing buffer over the bound. */
  slowDisconnects: number;
  /** QoS 1 messages not queued for a persistent session whose queue was full (durable-persistence.ts, MAX_QUEUED). */
  queueFull: number;
}

type Deliver = (packet: { qos: number; topic: string }, done: () => void) => void;
interface DeliveringClient {
  id: string;
  conn: { writableLength: number; destroy(err?: Error): void; destroyed: boolean };
  deliver0: Deliver;
  deliverQoS: Deliver;
}

/**
 * Fair delivery: aedes delivers each message to every subscriber through one emitter with a global concurrency
 * window, and a subscriber's delivery callback waits for its socket to drain, so a client that stops reading held
 * the window for everyone (finding 2). Here each client's delivery returns to the emitter at once, and the client's
 * own outgoing buffer is bounded at `maxBufferedBytes()` (bytes written but not yet taken by the kernel; read per
 * message, as who the client is is known only once it is authenticated):
 * - over the bound, a QoS 0 message to it is dropped and counted;
 * - over the bound, a QoS 1 message disconnects it, counted. Its persistent session keeps the message (queued in the
 *   broker's persistence before delivery) and aedes resends it when the client is back and reading.
 * A client whose socket does not drain for aedes' `drainTimeout` is disconnected as well.
 */
export function boundDelivery(client: Client, maxBufferedBytes: () => number, stats: DeliveryStats, log: Logger): void {
  const c = client as unknown as DeliveringClient;
  const deliver0 = c.deliver0;
  const deliverQoS = c.deliverQoS;
  const over = () => c.conn.writableLength > maxBufferedBytes();
  c.deliver0 = (packet, done) => {
    if (over()) stats.droppedQos0++;
    else deliver0(packet, noop);
    done();
  };
  c.deliverQoS = (packet, done) => {
    if (!over()) deliverQoS(packet, noop);
    else if (!c.conn.destroyed) {
      stats.slowDisconnects++;
      log.warn(`disconnected "${c.id}": over ${maxBufferedBytes()} bytes waiting in its outgoing buffer (a subscriber that does not read)`);
      c.conn.destroy(new Error('outgoing buffer limit'));
    }
    done();
  };
}

function noop(): void {}
