import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFlotilla } from '../../cli/processes.js';
import { jsonBody, startCoordinator } from '../helpers/cluster.js';

let cluster: Awaited<ReturnType<typeof startCoordinator>>;
const TOKEN = 'api-token-for-tests';
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: TOKEN });
});
afterAll(() => cluster.stop());

async function call(method: string, path: string, body?: string, headers: Record<string, string> = auth) {
  const res = await fetch(cluster.api + path, { method, headers, body });
  return { status: res.status, body: await jsonBody(res) };
}

describe('HTTP API errors are JSON with a message', () => {
  it.each([
    ['GET', '/api/v1/devices', undefined, {}, 401, /missing or wrong API token/],
    ['GET', '/api/v1/devices', undefined, { authorization: 'Bearer nope' }, 401, /missing or wrong API token/],
    ['GET', '/api/v1/devices/ghost', undefined, auth, 404, /no device "ghost"/],
    ['GET', '/api/v1/nothing', undefined, auth, 404, /no such resource/],
    ['PUT', '/api/v1/devices', undefined, auth, 405, /method PUT not allowed/],
    ['POST', '/api/v1/devices', '{', auth, 400, /not valid JSON/],
    ['POST', '/api/v1/devices', '{"id":"a/b"}', auth, 400, /invalid request body: id: must be 1-64 characters/],
    ['POST', '/api/v1/devices', '{"name":"x"}', auth, 400, /invalid request body: id: /],
  ])('%s %s %s → %i', async (method, path, body, headers, status, message) => {
    const res = await call(method, path, body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(res.body.error.status).toBe(status);
    expect(res.body.error.message).toMatch(message);
  });

  it('refuses an oversized body with 413 without reading it all', async () => {
    const res = await call('POST', '/api/v1/devices', JSON.stringify({ id: 'x'.repeat(17 * 1024 * 1024) }));
    expect(res.status).toBe(413);
  });

  it('a command to a device that never answers times out with 504', async () => {
    await call('POST', '/api/v1/devices', '{"id":"mute"}');
    const res = await call('POST', '/api/v1/devices/mute/commands', JSON.stringify({ command: { type: 'ping' }, timeoutMs: 200 }));
    expect(res.status).toBe(504);
    expect(res.body.error.message).toMatch(/did not acknowledge ping within 200 ms/);
    const bad = await call('POST', '/api/v1/devices/mute/commands', JSON.stringify({ command: { type: 'format-disk' } }));
    expect(bad.status).toBe(400);
  });

  it('enrolls (201), rotates (200), lists, shows and removes a device', async () => {
    const first = await call('POST', '/api/v1/devices', '{"id":"e-1"}');
    expect(first.status).toBe(201);
    const second = await call('POST', '/api/v1/devices', '{"id":"e-1"}');
    expect(second.status).toBe(200);
    expect(second.body.token).not.toBe(first.body.token);
    expect(cluster.coordinator.registry.authenticate('e-1', first.body.token)).toBe(false);
    expect(cluster.coordinator.registry.authenticate('e-1', second.body.token)).toBe(true);
    const detail = await call('GET', '/api/v1/devices/e-1');
    expect(detail.body).toMatchObject({ id: 'e-1', online: false, state: 'unknown', health: null, events: [] });
    expect((await call('DELETE', '/api/v1/devices/e-1')).status).toBe(200);
    expect((await call('GET', '/api/v1/devices/e-1')).status).toBe(404);
  });
});

describe('flotilla CLI', () => {
  it('`devices` prints a table from the API', async () => {
    await call('POST', '/api/v1/devices', '{"id":"cli-1"}');
    const out: string[] = [];
    const p = spawnFlotilla(['devices', '--api', cluster.api, '--api-token', TOKEN], { stderr: 'ignore' });
    p.child.stdout!.on('data', (d) => out.push(String(d)));
    expect(await p.exited).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/^ID\s+CLUSTER\s+STATE\s+ARCH/);
    expect(text).toMatch(/cli-1\s+test\s+unknown/);
  });

  it('a wrong API token fails with the server\'s message and exit code 1', async () => {
    const err: string[] = [];
    const p = spawnFlotilla(['devices', '--api', cluster.api, '--api-token', 'wrong-one'], { stderr: (l) => err.push(l) });
    expect(await p.exited).toBe(1);
    expect(err.join('\n')).toMatch(/flotilla devices: GET \/api\/v1\/devices: HTTP 401: missing or wrong API token/);
  });

  it.each([
    [['coordinator', '--mqtt-port', 'x'], /^flotilla coordinator: --mqtt-port: expected a port number/],
    [['agent', '--id', 'a'], /^flotilla agent: --coordinator is required$/],
    [['agent', '--coordinator', 'http://x', '--id', 'a'], /^flotilla agent: --coordinator: expected a URL starting with mqtt:\/\/ or mqtts:\/\//],
    [['frobnicate'], /^flotilla: unknown command "frobnicate"/],
  ])('%j fails at start-up with one line and exit code 2', async (args, message) => {
    const err: string[] = [];
    const p = spawnFlotilla(args, { stderr: (l) => err.push(l) });
    expect(await p.exited).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(message);
  });

  it('every subcommand has --help', async () => {
    for (const cmd of ['coordinator', 'agent', 'devices', 'enroll', 'demo']) {
      const out: string[] = [];
      const p = spawnFlotilla([cmd, '--help'], { stderr: 'ignore' });
      p.child.stdout!.on('data', (d) => out.push(String(d)));
      expect(await p.exited).toBe(0);
      expect(out.join('')).toContain(`flotilla ${cmd} — `);
    }
  });
});
