import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.js';
import { connectDevice, eventually, spawnAgent, startCoordinator, tempDir } from '../helpers/cluster.js';

const dir = tempDir();
const file = (name: string) => join(dir.path, name);
let cluster: Awaited<ReturnType<typeof startCoordinator>>;

/** A throwaway CA and a server certificate for 127.0.0.1, made with openssl for this test only. */
function makeCertificates(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir.path, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Flotilla Test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=Other CA');
}

beforeAll(async () => {
  makeCertificates();
  cluster = await startCoordinator({ tls: { port: 0, certFile: file('server.pem'), keyFile: file('server.key') } });
});
afterAll(async () => {
  await cluster.stop();
  dir.cleanup();
});

describe('mqtts://', () => {
  it('an agent verifying the server against the CA joins over TLS', async () => {
    const { token } = await new ApiClient(cluster.api).enroll('tls-1');
    const agent = spawnAgent(`mqtts://127.0.0.1:${cluster.coordinator.mqttsPort}`, 'tls-1', token, file('tls-1'), ['--ca', file('ca.pem')]);
    try {
      expect(await agent.waitFor('joined')).toMatchObject({ id: 'tls-1' });
    } finally {
      await agent.stop();
    }
  });

  it('a client trusting another CA refuses the server', async () => {
    const { token } = await new ApiClient(cluster.api).enroll('tls-2');
    await expect(
      connectDevice(`mqtts://127.0.0.1:${cluster.coordinator.mqttsPort}`, 'tls-2', token, { ca: readFileSync(file('other.pem')), rejectUnauthorized: true }),
    ).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });
});

describe('an agent refuses a server it cannot verify', () => {
  // The TLS handshake fails before any MQTT CONNECT: the agent logs why, keeps retrying, and never joins.
  it.each([
    ['trusting another CA', 'tls-other-ca', ['--ca', 'other.pem']],
    ['given no CA (system roots only)', 'tls-no-ca', []],
  ])('an agent %s never joins', async (_, id, caArgs) => {
    const { token } = await new ApiClient(cluster.api).enroll(id);
    const agent = spawnAgent(`mqtts://127.0.0.1:${cluster.coordinator.mqttsPort}`, id, token, file(id), caArgs.map((a) => (a.endsWith('.pem') ? file(a) : a)));
    let joined = false;
    agent.waitFor('joined', 60_000).then(() => (joined = true), () => {});
    try {
      const refusal = /coordinator link: .*(self[- ]signed|unable to verify|certificate)/i;
      // Whichever comes first: joining (the bug) or the refusal.
      const outcome = await eventually(() => (joined ? 'joined' : agent.lines.some((l) => refusal.test(l)) && 'refused'), 20_000, 'joined or a certificate error');
      expect(outcome).toBe('refused');
      // A second refused attempt: the agent kept trying, and still has not joined.
      await eventually(() => agent.lines.filter((l) => l.includes('coordinator link:')).length >= 2 && true, 20_000, 'a second refused attempt');
      expect(joined).toBe(false);
      const { devices } = await new ApiClient(cluster.api).devices();
      expect(devices.find((d) => d.id === id)).toMatchObject({ online: false, lastSeen: null });
    } finally {
      await agent.stop();
    }
  });
});
