import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import { describeZodError, errorMessage } from '../shared/errors.js';
import { InstalledStep } from '../shared/messages.js';
import type { Logger } from '../shared/log.js';

const AgentStateData = z.object({
  version: z.literal(1),
  identity: z.object({ id: z.string(), coordinator: z.string() }).nullable(),
  /** The last desired supervisor spec received, run again after a reboot without network. */
  desired: z.unknown().nullable(),
  installedSteps: z.array(InstalledStep),
});
export type AgentStateData = z.infer<typeof AgentStateData>;

const EMPTY: AgentStateData = { version: 1, identity: null, desired: null, installedSteps: [] };

/**
 * The agent's local state (identity, desired spec, installed steps) in `<data-dir>/agent.json` (lowdb; writes are
 * atomic: temp file + rename). A file that does not parse is moved aside, never silently overwritten.
 */
export class AgentState {
  private constructor(private readonly db: Low<AgentStateData>) {}

  static async open(dataDir: string, log: Logger): Promise<AgentState> {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'agent.json');
    const db = new Low<AgentStateData>(new JSONFile(file), structuredClone(EMPTY));
    let problem: string | undefined;
    try {
      await db.read();
      const parsed = AgentStateData.safeParse(db.data);
      if (parsed.success) db.data = parsed.data;
      else problem = describeZodError(parsed.error);
    } catch (err) {
      problem = errorMessage(err);
    }
    if (problem) {
      const aside = `${file}.corrupt-${Date.now()}`;
      renameSync(file, aside);
      log.error(`local state ${file} is unreadable (${problem}); moved to ${aside} and starting fresh`);
      db.data = structuredClone(EMPTY);
    }
    return new AgentState(db);
  }

  get data(): Readonly<AgentStateData> {
    return this.db.data;
  }

  async update(patch: Partial<Omit<AgentStateData, 'version'>>): Promise<void> {
    Object.assign(this.db.data, patch);
    await this.db.write();
  }
}
