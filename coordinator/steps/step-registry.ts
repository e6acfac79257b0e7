import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { z } from 'zod';
import { ConfigError, describeZodError } from '../../shared/errors.js';
import { StepInfo } from '../../shared/modules.js';

const StepsData = z.object({ version: z.literal(1), steps: z.record(z.string(), StepInfo) });
type StepsData = z.infer<typeof StepsData>;

/** Uploaded steps by `name@version` → digest (`steps.json` in the data dir); the bytes live in the ModuleStore. */
export class StepRegistry {
  private constructor(private readonly db: Low<StepsData>) {}

  static async open(dataDir: string): Promise<StepRegistry> {
    const file = join(dataDir, 'steps.json');
    const db = new Low<StepsData>(new JSONFile(file), { version: 1, steps: {} });
    await db.read();
    const parsed = StepsData.safeParse(db.data);
    if (!parsed.success) throw new ConfigError(`--data-dir: ${file} is not a Flotilla step registry: ${describeZodError(parsed.error)}`);
    db.data = parsed.data;
    return new StepRegistry(db);
  }

  list(): StepInfo[] {
    return Object.values(this.db.data.steps).sort((a, b) => a.ref.localeCompare(b.ref));
  }

  resolve(ref: string): StepInfo | undefined {
    return this.db.data.steps[ref];
  }

  async add(info: StepInfo): Promise<void> {
    this.db.data.steps[info.ref] = info;
    await this.db.write();
  }
}
