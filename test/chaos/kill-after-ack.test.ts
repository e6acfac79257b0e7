import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';
import { connectDevice, tempDir } from '../helpers/cluster.js';

// Acknowledged means durable (issue 10): a coordinator SIGKILLed right after each acknowledged write, restarted on
// the same data dir, still has every acknowledged change. Each write is followed by a kill and a restart.
const ROUNDS = 20;
const dir = tempDir();
const data = join(dir.path, 'data');
let running: FlotillaProcess | undefined;
afterAll(async () => {
  await running?.stop();
  dir.cleanup();
});

interface Live {
  api: string;
  mqtt: string;
}

async function start(): Promise<Live> {
  running = spawnFlotilla(['coordinator', '--host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--data-dir', data, '--cluster', 'kill'], { stderr: 'ignore' });
  const ports = (await running.waitFor('listening')) as { mqtt: number; http: number };
  return { api: `http://127.0.0.1:${ports.http}`, mqtt: `mqtt://127.0.0.1:${ports.mqtt}` };
}

/** SIGKILL the instant the answer is in: nothing after the acknowledgement may be needed for durability. */
async function killNow(): Promise<void> {
  running!.child.kill('SIGKILL');
  await running!.exited;
  running = undefined;
}

async function call<T>(live: Live, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${live.api}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const parsed = (await res.json()) as T;
  return { status: res.status, body: parsed };
}

/** The acknowledged write, the kill right after its answer, the restart; returns the answer and the new instance. */
async function ackThenKill<T>(live: Live, method: string, path: string, body?: unknown): Promise<{ reply: { status: number; body: T }; live: Live }> {
  const reply = await call<T>(live, method, path, body);
  await killNow();
  return { reply, live: await start() };
}

const accepts = async (url: string, id: string, token: string) => {
  const c = await connectDevice(url, id, token).catch(() => undefined);
  await c?.endAsync();
  return c !== undefined;
};
const acceptsChild = async (url: string, name: string, token: string) => {
  const id = `child:${name}`;
  const c = await mqtt.connectAsync(url, { clientId: id, username: id, password: token, reconnectPeriod: 0 }).catch(() => undefined);
  await c?.endAsync();
  return c !== undefined;
};

describe(`SIGKILL right after each acknowledged write, ${ROUNDS} times each`, () => {
  it('enrol, rotate, desired, child credentials and remove all survive', async () => {
    let live = await start();
    const spec = { id: 'root', children: [] };
    const kept = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      const id = `k-${i}`;

      let step = await ackThenKill<{ token: string }>(live, 'POST', '/api/v1/devices', { id });
      expect(step.reply.status).toBe(201);
      const first = step.reply.body.token;
      live = step.live;
      expect(await accepts(live.mqtt, id, first), `enrolment of ${id}`).toBe(true);

      step = await ackThenKill<{ token: string }>(live, 'POST', '/api/v1/devices', { id });
      expect(step.reply.status).toBe(200);
      const rotated = step.reply.body.token;
      live = step.live;
      expect(await accepts(live.mqtt, id, rotated), `rotated token of ${id}`).toBe(true);
      expect(await accepts(live.mqtt, id, first), `rotated-away token of ${id}`).toBe(false);

      const desired = await ackThenKill<{ acks: Record<string, { result: { revision: number } }> }>(live, 'POST', '/api/v1/desired', { target: { device: id }, spec });
      const revision = desired.reply.body.acks[id].result.revision;
      live = desired.live;
      expect((await call<{ revision: number }>(live, 'GET', `/api/v1/devices/${id}/desired`)).body.revision, `desired of ${id}`).toBe(revision);

      const child = await ackThenKill<{ token: string }>(live, 'POST', '/api/v1/clusters', { name: `c-${i}` });
      expect(child.reply.status).toBe(201);
      live = child.live;
      expect(await acceptsChild(live.mqtt, `c-${i}`, child.reply.body.token), `credentials of child c-${i}`).toBe(true);

      if (i % 2 === 0) {
        const removed = await ackThenKill(live, 'DELETE', `/api/v1/devices/${id}`);
        expect(removed.reply.status).toBe(200);
        live = removed.live;
        expect((await call(live, 'GET', `/api/v1/devices/${id}`)).status, `removal of ${id}`).toBe(404);
        expect(await accepts(live.mqtt, id, rotated), `token of removed ${id}`).toBe(false);
      } else kept.add(id);

      const list = await call<{ devices: { id: string }[] }>(live, 'GET', '/api/v1/devices');
      expect(list.body.devices.map((d) => d.id).sort()).toEqual([...kept].sort());
    }
  }, 600_000);
});
