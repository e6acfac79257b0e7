/**
 * The baseline of bench/cluster-load.ts: aedes alone, no auth, relaying every device's health to one in-process
 * subscriber at health's QoS (as the coordinator's own client subscribes to all health), with default options.
 * Prints its port, then how many reports it relayed so far, every 500 ms (`{"relayed": n}`).
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { CONTRACT, allDevices } from '../../shared/topics.js';

const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;
const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'relay', clean: false });
let received = 0;
sub.on('message', () => received++);
await sub.subscribeAsync(allDevices('health'), { qos: CONTRACT.health.qos });
console.log(JSON.stringify({ port }));
setInterval(() => console.log(JSON.stringify({ relayed: received })), 500).unref();
process.on('SIGTERM', () => {
  console.error(`relayed ${received}`);
  process.exit(0);
});
