import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentRelease } from '../../shared/agent-release.js';
import type { RevocationList } from '../../shared/revocations.js';
import type { RolloutStatus } from '../../shared/rollout.js';
import { connectDevice, eventually, tempDir } from '../helpers/cluster.js';
import { rolloutUntil } from '../helpers/rollout.js';
import { packRelease, putRelease, seaTree } from '../ota/ota-helpers.js';
import { CoordinatorProcess } from './harness.js';

// Acknowledged means durable (issue 10): a coordinator SIGKILLed right after each acknowledged write, restarted on
// the same data dir, still has every acknowledged change. Each write is followed by a kill and a restart.
const ROUNDS = 20;
/** The writes added later get fewer rounds, to keep the chaos suite within a few minutes: each round is a restart
 *  per write, two coordinators for a forwarded label patch, a rollout's offline timeout for a rollout. */
const KEY_ROUNDS = 10;
const FEW_ROUNDS = 5;
const dir = tempDir();
const nodes: CoordinatorProcess[] = [];
afterAll(async () => {
  for (const node of nodes) await node.stop();
  dir.cleanup();
});

/** A coordinator process on fixed ports, so that a child's --parent still names its parent after a restart. */
async function coordinator(name: string, args: string[] = []): Promise<CoordinatorProcess> {
  const node = await CoordinatorProcess.create(join(dir.path, name), {}, ['--cluster', name, ...args]);
  nodes.push(node);
  await node.start();
  return node;
}

const api = (node: CoordinatorProcess) => `http://127.0.0.1:${node.httpPort}`;
const send = (node: CoordinatorProcess, method: string, path: string, body?: unknown) =>
  fetch(`${api(node)}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });

async function call<T>(node: CoordinatorProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await send(node, method, path, body);
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * The acknowledged write, then SIGKILL of `killed` the instant its answer is in (nothing after the acknowledgement
 * may be needed for durability), then their restart on the same data dirs, parents first; returns the answer.
 */
async function ackThenKill<T>(killed: CoordinatorProcess[], write: () => Promise<Response>): Promise<{ status: number; body: T }> {
  const res = await write();
  const reply = { status: res.status, body: (await res.json()) as T };
  await Promise.all(killed.map((node) => node.kill()));
  for (const node of killed) await node.start();
  return reply;
}

const accepts = async (node: CoordinatorProcess, id: string, token: string) => {
  const c = await connectDevice(node.url, id, token).catch(() => undefined);
  await c?.endAsync();
  return c !== undefined;
};
const acceptsChild = async (node: CoordinatorProcess, name: string, token: string) => {
  const id = `child:${name}`;
  const c = await mqtt.connectAsync(node.url, { clientId: id, username: id, password: token, reconnectPeriod: 0 }).catch(() => undefined);
  await c?.endAsync();
  return c !== undefined;
};

describe(`SIGKILL right after each acknowledged write, ${ROUNDS} times each (${KEY_ROUNDS} for keys and releases, ${FEW_ROUNDS} for labels and rollouts)`, () => {
  it('enrol, rotate, desired, child credentials and remove all survive', async () => {
    const root = await coordinator('kill');
    const spec = { id: 'root', children: [] };
    const kept = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      const id = `k-${i}`;

      const enrolled = await ackThenKill<{ token: string }>([root], () => send(root, 'POST', '/api/v1/devices', { id }));
      expect(enrolled.status).toBe(201);
      const first = enrolled.body.token;
      expect(await accepts(root, id, first), `enrolment of ${id}`).toBe(true);

      const rotation = await ackThenKill<{ token: string }>([root], () => send(root, 'POST', '/api/v1/devices', { id }));
      expect(rotation.status).toBe(200);
      const rotated = rotation.body.token;
      expect(await accepts(root, id, rotated), `rotated token of ${id}`).toBe(true);
      expect(await accepts(root, id, first), `rotated-away token of ${id}`).toBe(false);

      const desired = await ackThenKill<{ acks: Record<string, { result: { revision: number } }> }>([root], () => send(root, 'POST', '/api/v1/desired', { target: { device: id }, spec }));
      const revision = desired.body.acks[id].result.revision;
      expect((await call<{ revision: number }>(root, 'GET', `/api/v1/devices/${id}/desired`)).body.revision, `desired of ${id}`).toBe(revision);

      const child = await ackThenKill<{ token: string }>([root], () => send(root, 'POST', '/api/v1/clusters', { name: `c-${i}` }));
      expect(child.status).toBe(201);
      expect(await acceptsChild(root, `c-${i}`, child.body.token), `credentials of child c-${i}`).toBe(true);

      if (i % 2 === 0) {
        const removed = await ackThenKill([root], () => send(root, 'DELETE', `/api/v1/devices/${id}`));
        expect(removed.status).toBe(200);
        expect((await call(root, 'GET', `/api/v1/devices/${id}`)).status, `removal of ${id}`).toBe(404);
        expect(await accepts(root, id, rotated), `token of removed ${id}`).toBe(false);
      } else kept.add(id);

      const list = await call<{ devices: { id: string }[] }>(root, 'GET', '/api/v1/devices');
      expect(list.body.devices.map((d) => d.id).sort()).toEqual([...kept].sort());
    }
  }, 600_000);

  it('key revocations and agent releases (registry entry and artifact) survive', async () => {
    const root = await coordinator('keys');
    const tree = seaTree(join(dir.path, 'release'), 'exit 0');
    const revoked: string[] = [];
    for (let i = 0; i < KEY_ROUNDS; i++) {
      const keyId = (i + 1).toString(16).padStart(16, '0');
      const revocation = await ackThenKill<RevocationList>([root], () => send(root, 'POST', '/api/v1/keys/revocations', { keyId, reason: `round ${i}` }));
      expect(revocation.status).toBe(200);
      revoked.push(keyId);
      const list = await call<RevocationList>(root, 'GET', '/api/v1/keys/revocations');
      expect(list.body.keys.map((k) => k.keyId), `revocation of ${keyId}`).toEqual(revoked);

      const version = `0.${i}.0`;
      const release = packRelease(tree, join(dir.path, `release-${i}.tar.xz`), { target: 'linux-x64', version });
      const pushed = await ackThenKill<AgentRelease>([root], () => putRelease(api(root), release));
      expect(pushed.status).toBe(201);
      expect((await call<AgentRelease>(root, 'GET', `/api/v1/agent-releases/linux-x64/${version}`)).body, `release ${version}`).toEqual(pushed.body);
      const artifact = await fetch(`${api(root)}/agent-artifacts/${release.subject.sha256}`);
      expect(artifact.status, `artifact of ${version}`).toBe(200);
      expect(createHash('sha256').update(Buffer.from(await artifact.arrayBuffer())).digest('hex')).toBe(createHash('sha256').update(readFileSync(release.file)).digest('hex'));
    }
    expect((await call<{ releases: AgentRelease[] }>(root, 'GET', '/api/v1/agent-releases')).body.releases).toHaveLength(KEY_ROUNDS);
  }, 600_000);

  it("a label patch forwarded from the root survives SIGKILL of the root and of the device's own coordinator", async () => {
    const token = 'tok-edge-0123456789abcdef';
    const tokens = join(dir.path, 'child-tokens.json');
    writeFileSync(tokens, JSON.stringify({ edge: token }));
    const root = await coordinator('root', ['--child-tokens-file', tokens]);
    const edge = await coordinator('edge', ['--parent', root.url, '--token', token, '--summary-ms', '100']);
    expect((await call(edge, 'POST', '/api/v1/devices', { id: 'e-1' })).status).toBe(201);
    const labels: Record<string, string> = {};
    const atRoot = () => call<{ devices: { id: string; labels: Record<string, string> }[] }>(root, 'GET', '/api/v1/devices').then((r) => r.body.devices.find((d) => d.id === 'edge/e-1'));
    for (let i = 0; i < FEW_ROUNDS; i++) {
      // The root forwards a patch only to a device it knows: after its restart, from the child's next summary.
      await eventually(atRoot, 10_000, 'edge/e-1 known at the root');
      const patched = await ackThenKill<{ labels: Record<string, string> }>([root, edge], () => send(root, 'PATCH', `/api/v1/devices/${encodeURIComponent('edge/e-1')}`, { labels: { [`k${i}`]: `v${i}` } }));
      labels[`k${i}`] = `v${i}`;
      expect(patched).toEqual({ status: 200, body: { id: 'edge/e-1', labels } });
      // Stored at the device's own coordinator, which committed before the root's answer; the root learns it again.
      const own = await call<{ devices: { id: string; labels: Record<string, string> }[] }>(edge, 'GET', '/api/v1/devices');
      expect(own.body.devices.find((d) => d.id === 'e-1')?.labels, `labels after round ${i}`).toEqual(labels);
      await eventually(async () => JSON.stringify((await atRoot())?.labels) === JSON.stringify(labels), 10_000, `round ${i}'s labels at the root`);
    }
  }, 300_000);

  it('a started rollout survives, and the restarted coordinator carries it to its end', async () => {
    const root = await coordinator('owner');
    for (let i = 0; i < FEW_ROUNDS; i++) {
      // A device that never connects: its offline timeout ends the rollout, seconds after a kill and a restart.
      const id = `o-${i}`;
      expect((await call(root, 'POST', '/api/v1/devices', { id })).status).toBe(201);
      const request = { selector: `id=${id}`, change: { spec: { id: 'root', children: [] } }, waves: '100%', offlineTimeout: '2s' };
      const started = await ackThenKill<RolloutStatus>([root], () => send(root, 'POST', '/api/v1/rollouts', request));
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      expect(started.body.state).toBe('running');
      const read = () => call<RolloutStatus>(root, 'GET', `/api/v1/rollouts/${started.body.id}`).then((r) => (r.status === 200 ? r.body : undefined));
      expect(await read(), `rollout ${started.body.id} after the restart`).toBeDefined();
      const done = await rolloutUntil(read, (s) => s.state !== 'running', 20_000, `rollout ${started.body.id} to end after the restart`);
      expect(done).toMatchObject({ state: 'succeeded', devices: [{ id, state: 'skipped', reason: 'offline for more than 2s' }] });
    }
  }, 300_000);
});
