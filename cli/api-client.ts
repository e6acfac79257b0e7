import type { z } from 'zod';
import { ApiError, ClusterEnrollResponse, ClusterSummary, DeviceList, DevicePatchResponse, EnrollResponse, FanoutResult, type FanoutTarget } from '../shared/api.js';
import type { Labels } from '../shared/label-syntax.js';
import type { LabelPatch } from '../shared/labels.js';
import { RolloutList, RolloutStatus, type RolloutRequest } from '../shared/rollout.js';
import { DesiredMessage } from '../shared/desired.js';
import { StepInfo, type StepUpload } from '../shared/modules.js';
import { describeZodError } from '../shared/errors.js';
import { DeviceLogs } from '../shared/logs.js';
import { RevocationList, type RevocationRequest } from '../shared/revocations.js';
import { AgentReleaseList } from '../shared/agent-release.js';

/** A small client of the coordinator's HTTP API (docs/api.md), validating every response it gets. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  private async request<T extends z.ZodType>(method: string, path: string, schema: T, body?: unknown): Promise<z.infer<T>> {
    const url = new URL(path, this.baseUrl);
    const res = await fetch(url, {
      method,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const err = ApiError.safeParse(json);
      throw new Error(`${method} ${url.pathname}: HTTP ${res.status}${err.success ? `: ${err.data.error.message}` : ''}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new Error(`${method} ${url.pathname}: unexpected response: ${describeZodError(parsed.error)}`);
    return parsed.data;
  }

  devices() {
    return this.request('GET', '/api/v1/devices', DeviceList);
  }

  cluster() {
    return this.request('GET', '/api/v1/cluster', ClusterSummary);
  }

  enroll(id: string, labels?: Labels) {
    return this.request('POST', '/api/v1/devices', EnrollResponse, { id, labels });
  }

  /** Set (a string) or remove (null) labels of a device at its own coordinator. */
  label(id: string, patch: LabelPatch) {
    return this.request('PATCH', `/api/v1/devices/${encodeURIComponent(id)}`, DevicePatchResponse, { labels: Object.fromEntries(patch) });
  }

  /** Credentials for a child coordinator (`--parent ... --cluster NAME --token T`). */
  enrollCluster(name: string) {
    return this.request('POST', '/api/v1/clusters', ClusterEnrollResponse, { name });
  }

  revocations() {
    return this.request('GET', '/api/v1/keys/revocations', RevocationList);
  }

  /** Revoke a publisher key (at the root coordinator); the list once it is on disk. */
  revoke(request: RevocationRequest) {
    return this.request('POST', '/api/v1/keys/revocations', RevocationList, request);
  }

  pushStep(upload: StepUpload) {
    return this.request('POST', '/api/v1/steps', StepInfo, upload);
  }

  /** Send a desired supervisor spec to the target's devices; per-device revisions (in `acks`) or errors. */
  applyDesired(target: FanoutTarget, spec: unknown, timeoutMs?: number) {
    return this.request('POST', '/api/v1/desired', FanoutResult, { target, spec, timeoutMs });
  }

  agentReleases() {
    return this.request('GET', '/api/v1/agent-releases', AgentReleaseList);
  }

  startRollout(request: RolloutRequest) {
    return this.request('POST', '/api/v1/rollouts', RolloutStatus, request);
  }

  rollouts() {
    return this.request('GET', '/api/v1/rollouts', RolloutList);
  }

  rollout(id: string) {
    return this.request('GET', `/api/v1/rollouts/${encodeURIComponent(id)}`, RolloutStatus);
  }

  rolloutCommand(id: string, command: 'pause' | 'resume' | 'abort' | 'rollback') {
    return this.request('POST', `/api/v1/rollouts/${encodeURIComponent(id)}/${command}`, RolloutStatus);
  }

  /** A device's recent warn/error lines (GET /api/v1/devices/:id/logs). */
  logs(id: string, query: { step?: string; level?: string; since?: number; limit?: number } = {}) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.size ? `?${params}` : '';
    return this.request('GET', `/api/v1/devices/${encodeURIComponent(id)}/logs${qs}`, DeviceLogs);
  }

  desired(id: string) {
    return this.request('GET', `/api/v1/devices/${encodeURIComponent(id)}/desired`, DesiredMessage);
  }
}
