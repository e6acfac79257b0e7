import type { MqttClient } from 'mqtt';
import type { DesiredMessage, ModuleRef } from '../../shared/desired.js';
import { errorMessage } from '../../shared/errors.js';
import { encode } from '../../shared/messages.js';
import { CONTRACT, deviceTopic } from '../../shared/topics.js';
import type { Registry } from '../registry/registry.js';

/**
 * The desired state of each of this cluster's own devices: stored in the registry (lowdb, coalesced writes) and
 * published retained on `flotilla/d/<id>/desired`. aedes keeps retained messages in memory only, so a restarted
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
   * Store and publish `spec` for each device. The revision is the time of the change in ms, or the previous revision
   * + 1 if the clock went back: it grows even when a crash lost the last coalesced write, which a counter would
   * repeat (and the agent would ignore as stale).
   */
  async apply(devices: string[], spec: unknown, modules: Record<string, ModuleRef>): Promise<{ revisions: Record<string, number>; errors: Record<string, string> }> {
    const revisions: Record<string, number> = {};
    const errors: Record<string, string> = {};
    const ts = this.clock();
    await Promise.all(
      devices.map(async (id) => {
        const previous = this.get(id)?.revision ?? 0;
        const desired: DesiredMessage = { revision: Math.max(ts, previous + 1), ts, spec, modules };
        this.registry.update(id, { desired });
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
