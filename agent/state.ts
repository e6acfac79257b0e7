import { join } from 'node:path';
import { z } from 'zod';
import { DurableFile } from '../shared/durable/index.js';
import { InstalledStep } from '../shared/messages.js';
import { RevocationList } from '../shared/revocations.js';
import type { Logger } from '../shared/log.js';

const AgentStateData = z.object({
  version: z.literal(1),
  identity: z.object({ id: z.string(), coordinator: z.string() }).nullable(),
  /** The last desired supervisor spec received, run again after a reboot without network. */
  desired: z.unknown().nullable(),
  installedSteps: z.array(InstalledStep),
  /** A revision this agent rolled back by itself: never applied again, though its coordinator still holds it. */
  rolledBack: z.number().int().nonnegative().nullable().default(null),
  /** Revoked publisher keys, as last received: honoured after a restart without its coordinator. */
  revocations: RevocationList.default({ keys: [] }),
});
export type AgentStateData = z.infer<typeof AgentStateData>;

/**
 * The agent's local state (identity, desired spec, installed steps) in `<data-dir>/agent.json`, a DurableFile:
 * atomic fsynced writes, and a file that does not parse is moved aside (logged), never silently overwritten.
 */
export class AgentState {
  private constructor(private readonly store: DurableFile<AgentStateData>) {}

  static async open(dataDir: string, log: Logger): Promise<AgentState> {
    const store = await DurableFile.open(
      {
        file: join(dataDir, 'agent.json'),
        what: 'agent state',
        schema: AgentStateData,
        empty: () => ({ version: 1 as const, identity: null, desired: null, installedSteps: [], rolledBack: null, revocations: { keys: [] } }),
        serialize: (data) => data,
      },
      { log },
    );
    return new AgentState(store);
  }

  get data(): Readonly<AgentStateData> {
    return this.store.data;
  }

  /** Resolves once the change is on disk. */
  async update(patch: Partial<Omit<AgentStateData, 'version'>>): Promise<void> {
    Object.assign(this.store.data, patch);
    await this.store.commit();
  }
}
