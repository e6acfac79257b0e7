import { z } from 'zod';
import { DurableFile, type StoreOptions } from './durable-file.js';

/**
 * A DurableFile `{"version": 1, "<key>": {"<id>": record, ...}}` held in memory as a Map (ids from the wire never
 * index plain objects): the layout of the coordinator's registry.json, clusters.json and steps.json.
 */
export function openMapFile<V>(
  file: { path: string; what: string; key: string },
  ids: z.ZodString,
  records: z.ZodType<V>,
  opts: StoreOptions,
): Promise<DurableFile<Map<string, V>>> {
  const schema = z
    .object({ version: z.literal(1), [file.key]: z.record(ids, records) })
    .transform((data) => new Map(Object.entries(data[file.key] as Record<string, V>)));
  return DurableFile.open(
    {
      file: file.path,
      what: file.what,
      schema,
      empty: () => new Map(),
      serialize: (map) => ({ version: 1, [file.key]: Object.fromEntries(map) }),
    },
    opts,
  );
}
