import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RELEASE_HEADER } from '../../shared/agent-release.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { metric } from '../helpers/metrics.js';

// A client that hangs up mid-upload failed, not the disk: flotilla_store_write_failures_total is an operator's alarm.
const dir = tempDir();
const artifacts = join(dir.path, 'agent-artifacts');
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
beforeAll(async () => {
  cluster = await startCoordinator({ dataDir: dir.path });
});
afterAll(async () => {
  await cluster?.stop();
  dir.cleanup();
});

/** The artifact store's files, a partial upload's temp file included. */
const files = () => {
  try {
    return readdirSync(artifacts);
  } catch {
    return []; // not created yet
  }
};

describe('an artifact upload the client cuts off', () => {
  it('mid-body: not counted as a failed write, its partial file removed, no release listed', async () => {
    const body = randomBytes(256 * 1024);
    const subject = { sha256: sha256Hex(body), size: body.length, kind: 'full', installBytes: 4096 };
    const path = '/api/v1/agent-releases/linux-x64/0.9.0';
    const req = request(`${cluster.api}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, [RELEASE_HEADER]: JSON.stringify(subject) },
    });
    req.on('error', () => {}); // the socket destroyed below
    req.write(body.subarray(0, body.length / 2));
    // The coordinator is streaming the body to its temp file: the store's put is under way when the client goes.
    await eventually(() => files().some((f) => f.endsWith('.tmp') && statSync(join(artifacts, f)).size > 0), 10_000, 'the partial upload on disk');
    req.destroy();
    await eventually(() => cluster.lines.some((l) => l.includes(`HTTP PUT ${path}`)), 10_000, 'the cut-off upload answered');

    expect(await metric(cluster.api, 'flotilla_store_write_failures_total', { file: 'agent-artifacts' })).toBe(0);
    expect(cluster.lines.filter((l) => l.includes(`HTTP PUT ${path}`)).join('\n')).toMatch(/→ 400: artifact: the upload broke off after \d+ of 262144 bytes/);
    expect(files()).toEqual([]);
    expect((await fetch(`${cluster.api}${path}`)).status).toBe(404);
  });
});
