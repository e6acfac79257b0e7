import type { MqttClient } from 'mqtt';
import type { DesiredGuard, DesiredMessage, ModuleRef } from '../../shared/desired.js';
import type { AgentPin } from '../../shared/agent-release.js';
import { errorMessage } from '../../shared/errors.js';
import { encode } from '../../shared/messages.js';
import { CONTRACT, deviceTopic } from '../../shared/topics.js';
import type { Registry } from '../registry/registry.js';

/**
 * The desired state of each of this cluster's own devices: stored in the registry, on disk before it is published
 * retained on `flotilla/d/<id>/desired` (an agent never runs a revision its coordinator could forget). aedes keeps retained messages in memory only, so a restarted
 * coordinator publishes them all again; agents ignore a revision they already run, so that changes nothing.
 */
export class DesiredStates {
  constructor(
    private readonly registry: Registry,
    private readonly client: MqttClient,
    private readonly clock: () => number = Date.now,
  ) {}

  get(id: string): DesiredMessage | undefined {
    return this.registry.get(id)?.desired;
  }

  /**
   * Store and publish `spec` for each device; the stores share one commit. The revision is the time of the change in
   * ms, or the previous revision + 1 if the clock went back. A device whose state could not be stored is not
   * published to and reports why in `errors` (ids from the wire: null-prototype maps). The agent a device should
   * run carries over from its previous desired state unless `agent` sets it (null: no longer pinned).
   */
  async apply(devices: string[], spec: unknown, modules: Record<string, ModuleRef>, guard?: DesiredGuard, agent?: AgentPin | null): Promise<{ revisions: Record<string, number>; errors: Record<string, string> }> {
    const revisions: Record<string, number> = Object.create(null);
    const errors: Record<string, string> = Object.create(null);
    const ts = this.clock();
    await Promise.all(
      devices.map(async (id) => {
        const before = this.get(id);
        const pin = agent === undefined ? before?.agent : (agent ?? undefined);
        const desired: DesiredMessage = { revision: Math.max(ts, (before?.revision ?? 0) + 1), ts, spec, modules, ...(guard && { guard }), ...(pin && { agent: pin }) };
        try {
          await this.registry.setDesired(id, desired);
        } catch (err) {
          errors[id] = `desired state not stored: ${errorMessage(err)}`;
          return;
        }
        try {
          await this.publish(id, desired);
          revisions[id] = desired.revision;
        } catch (err) {
          errors[id] = `desired state stored, not published: ${errorMessage(err)}`;
        }
      }),
    );
    return { revisions, errors };
  }

  /** After a start: every stored desired state back on its retained topic. */
  async republishAll(): Promise<number> {
    const stored = this.registry.list().filter((r) => r.desired);
    await Promise.all(stored.map((r) => this.publish(r.id, r.desired!)));
    return stored.length;
  }

  private async publish(id: string, desired: DesiredMessage): Promise<void> {
    const { qos, retain } = CONTRACT.desired;
    await this.client.publishAsync(deviceTopic(id, 'desired'), encode(desired), { qos, retain });
  }
}
