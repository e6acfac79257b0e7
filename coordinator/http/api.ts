import { DeviceId } from '../../shared/ids.js';
import { z } from 'zod';
import { DevicePatch, type ClusterSummary, type EnrollResponse } from '../../shared/api.js';
import type { Labels } from '../../shared/label-syntax.js';
import { LabelsSchema, type LabelPatch } from '../../shared/labels.js';
import { ValidationError } from '../../shared/errors.js';
import type { AckMessage } from '../../shared/messages.js';
import type { DeviceDirectory } from '../fleet/directory.js';
import type { Registry } from '../registry/registry.js';
import { HttpError, type Router } from './router.js';
import { readJson } from './server.js';

/** What the API needs from the running coordinator. */
export interface ApiDeps {
  cluster: string;
  version: string;
  startedAt: number;
  registry: Registry;
  directory: DeviceDirectory;
  /** Messages rejected as invalid and requests the broker refused, since start (coordinator/metrics). */
  counts(): Promise<{ invalidMessages: number; deniedRequests: number }>;
  /** A device was enrolled or removed, or its labels changed. */
  onEnrolled(id: string): void;
  onRemoved(id: string): void;
  /** Change an own device's labels, durably (a ValidationError names a bad patch). */
  patchLabels(id: string, patch: LabelPatch): Promise<Labels>;
  /** Send a label patch to the coordinator of a device below (qualified id): its ack, or why there is none. */
  forwardLabels(qid: string, patch: LabelPatch): Promise<{ ack?: AckMessage; error?: string }>;
}

const EnrollBody = z.object({ id: DeviceId, labels: LabelsSchema.optional() });
/** The result of a forwarded `labels` request (coordinator/federation/requests/labels.ts). */
const LabelsAck = z.object({ labels: LabelsSchema });

/** Enrolment, removal and the cluster summary (docs/api.md); device reads and commands are in federation/routes.ts. */
export function addApiRoutes(router: Router, deps: ApiDeps): void {
  const deviceOr404 = (id: string) => {
    const record = deps.registry.get(id);
    if (!record) throw new HttpError(404, `no device "${id}" in cluster ${deps.cluster}`);
    return record;
  };

  router.add('POST', '/api/v1/devices', async ({ req }): Promise<{ status: number; body: EnrollResponse }> => {
    const { id, labels } = await readJson(req, EnrollBody);
    const existed = deps.registry.get(id) !== undefined;
    const token = await deps.registry.enroll(id);
    // Labels given at enrolment replace any the device had; a re-enrolment without them keeps them.
    if (labels) await deps.registry.setLabels(id, labels);
    deps.onEnrolled(id);
    return { status: existed ? 200 : 201, body: { id, token } };
  });

  router.add('PATCH', '/api/v1/devices/:id', async ({ req, params }): Promise<{ body: { id: string; labels: Labels } }> => {
    const patch = await readJson(req, DevicePatch);
    // Labels are stored at the device's own coordinator: a device below gets the change there.
    if (params.id.includes('/')) return { body: { id: params.id, labels: await forwarded(params.id, patch.labels) } };
    deviceOr404(params.id);
    try {
      return { body: { id: params.id, labels: await deps.patchLabels(params.id, patch.labels) } };
    } catch (err) {
      if (err instanceof ValidationError) throw new HttpError(400, err.message);
      throw err;
    }
  });

  /** Acknowledged by the device's own coordinator after its commit; its refusal (a bad patch) is a 400 here too. */
  const forwarded = async (qid: string, patch: LabelPatch): Promise<Labels> => {
    if (!deps.directory.below.devices.has(qid)) throw new HttpError(404, `no device "${qid}" in cluster ${deps.cluster} or below`);
    const { ack, error } = await deps.forwardLabels(qid, patch);
    if (!ack) throw new HttpError(error?.startsWith('no device') ? 404 : 504, error ?? `the coordinator of ${qid} did not answer`);
    if (!ack.ok) throw new HttpError(400, ack.error ?? 'labels refused');
    const result = LabelsAck.safeParse(ack.result);
    if (!result.success) throw new HttpError(502, `the coordinator of ${qid} answered an invalid result`);
    return result.data.labels;
  };

  router.add('DELETE', '/api/v1/devices/:id', async ({ params }) => {
    deviceOr404(params.id);
    await deps.registry.remove(params.id);
    deps.onRemoved(params.id);
    return { status: 200, body: { id: params.id, removed: true } };
  });

  router.add('GET', '/api/v1/cluster', async (): Promise<{ body: ClusterSummary }> => {
    const { invalidMessages, deniedRequests } = await deps.counts();
    const own = deps.directory.ownRollup();
    const byArch: Record<string, number> = {};
    for (const s of deps.directory.ownSummaries()) byArch[s.arch ?? 'unknown'] = (byArch[s.arch ?? 'unknown'] ?? 0) + 1;
    return {
      body: {
        cluster: deps.cluster,
        coordinatorVersion: deps.version,
        uptimeS: Math.round((Date.now() - deps.startedAt) / 1000),
        devices: own.devices,
        byArch,
        restartsTotal: own.restartsTotal,
        invalidMessages,
        deniedRequests,
      },
    };
  });
}
