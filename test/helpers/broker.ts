import { createServer } from 'node:net';
import { Aedes } from 'aedes';

/** A bare aedes broker served on a free loopback port; `close` ends the broker, then its server. */
export async function serveBroker(aedes?: Aedes): Promise<{ aedes: Aedes; url: string; close(): Promise<void> }> {
  const broker = aedes ?? (await Aedes.createBroker());
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    aedes: broker,
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    async close() {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
