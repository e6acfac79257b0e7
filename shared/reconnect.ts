import type { MqttClient } from 'mqtt';
import { Backoff } from './backoff.js';

/**
 * Reconnect `client` forever with exponential backoff and full jitter. The client is created with
 * `reconnectPeriod: 0` (mqtt.js then never reconnects by itself) and this schedules `client.reconnect()` after
 * each close, so no option of mqtt.js is changed while it runs. Returns `stop`, for a clean shutdown.
 */
export function reconnectWithBackoff(client: MqttClient, backoff: Backoff): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const onConnect = () => backoff.reset();
  const onClose = () => {
    if (stopped || timer || client.disconnecting) return;
    timer = setTimeout(() => {
      timer = undefined;
      // reconnect() without stores replaces them with empty in-memory ones: hand back the (durable) ones it has.
      if (!stopped && !client.connected) client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, backoff.next());
  };
  client.on('connect', onConnect);
  client.on('close', onClose);
  return () => {
    stopped = true;
    clearTimeout(timer);
    client.off('connect', onConnect);
    client.off('close', onClose);
  };
}
