import { join } from 'node:path';
import { z } from 'zod';
import { DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { StepInfo } from '../../shared/modules.js';

const StepsFile = z
  .object({ version: z.literal(1), steps: z.record(z.string(), StepInfo) })
  .transform(({ steps }) => new Map(Object.entries(steps)));

/** Uploaded steps by `name@version` → digest (`steps.json` in the data dir); the bytes live in the ContentStore. */
export class StepRegistry {
  private constructor(private readonly store: DurableFile<Map<string, StepInfo>>) {}

  static async open(dataDir: string, opts: StoreOptions): Promise<StepRegistry> {
    const store = await DurableFile.open(
      {
        file: join(dataDir, 'steps.json'),
        what: 'step registry',
        schema: StepsFile,
        empty: () => new Map(),
        serialize: (steps) => ({ version: 1, steps: Object.fromEntries(steps) }),
      },
      opts,
    );
    return new StepRegistry(store);
  }

  list(): StepInfo[] {
    return [...this.store.data.values()].sort((a, b) => a.ref.localeCompare(b.ref));
  }

  resolve(ref: string): StepInfo | undefined {
    return this.store.data.get(ref);
  }

  /** Resolves once the step is on disk. */
  async add(info: StepInfo): Promise<void> {
    this.store.data.set(info.ref, info);
    await this.store.commit();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
