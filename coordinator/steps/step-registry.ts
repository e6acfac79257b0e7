import { join } from 'node:path';
import { z } from 'zod';
import { openMapFile, type DurableFile, type StoreOptions } from '../../shared/durable/index.js';
import { StepInfo } from '../../shared/modules.js';

/** Uploaded steps by `name@version` → digest (`steps.json` in the data dir); the bytes live in the ContentStore. */
export class StepRegistry {
  private constructor(private readonly store: DurableFile<Map<string, StepInfo>>) {}

  static async open(dataDir: string, opts: StoreOptions): Promise<StepRegistry> {
    return new StepRegistry(await openMapFile({ path: join(dataDir, 'steps.json'), what: 'step registry', key: 'steps' }, z.string(), StepInfo, opts));
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
