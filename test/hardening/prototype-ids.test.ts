import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { connectDevice, startCoordinator } from '../helpers/cluster.js';

// Issue 11, finding 1: ids from the wire once indexed plain objects, so Object.prototype member names crashed the
// coordinator (a CONNECT), polluted Object.prototype (desired) or found devices that do not exist (detail).
const NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'child:constructor', 'child:__proto__', 'child:toString'];

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let api: ApiClient;
beforeAll(async () => {
  cluster = await startCoordinator();
  api = new ApiClient(cluster.api);
  await api.enroll('real-1');
});
afterAll(() => cluster.stop());

const request = (method: string, path: string, body?: unknown) =>
  fetch(`${cluster.api}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });

describe('ids that are Object.prototype member names', () => {
  it.each(NAMES)('a CONNECT as %s, with any password or none, is refused and the coordinator lives on', async (name) => {
    for (const password of ['x', '', 'a'.repeat(64), undefined]) {
      const attempt = mqtt.connectAsync(cluster.mqttUrl, { clientId: name, username: name, reconnectPeriod: 0, ...(password === undefined ? {} : { password }) });
      await expect(attempt).rejects.toThrow(/Bad username or password|Not authorized/);
    }
    // A different client id beside the prototype-named username, too.
    await expect(connectDevice(cluster.mqttUrl, 'real-1', 'x', { username: name })).rejects.toThrow(/Bad username or password/);
    expect((await request('GET', '/api/v1/cluster')).status).toBe(200);
  });

  it('an enrolled device still connects after all of them', async () => {
    const { token } = await api.enroll('real-2');
    const client = await connectDevice(cluster.mqttUrl, 'real-2', token);
    await client.endAsync();
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])('GET, DELETE and desired of device %s are 404', async (name) => {
    const id = encodeURIComponent(name);
    for (const [method, path] of [
      ['GET', `/api/v1/devices/${id}`],
      ['GET', `/api/v1/devices/${id}/desired`],
      ['DELETE', `/api/v1/devices/${id}`],
    ]) {
      const res = await request(method, path);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
  });

  it.each(['__proto__', 'constructor'])('POST /api/v1/desired targeting %s pollutes nothing', async (name) => {
    const res = await request('POST', '/api/v1/desired', { target: { device: name }, spec: { id: 'root', children: [] } });
    expect([400, 404]).toContain(res.status);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(name === '__proto__' ? /device|must be/ : /no device "constructor"/);
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).revision).toBeUndefined();
    expect(({} as Record<string, unknown>).spec).toBeUndefined();
    const list = (await (await request('GET', '/api/v1/devices')).json()) as { devices: { id: string }[] };
    expect(list.devices.map((d) => d.id).sort()).toEqual(['real-1', 'real-2']);
  });
});
