// aedes-persistence's own abstract suite (node:test) run against Flotilla's durable persistence, each instance
// in a fresh directory. Run by test/broker/durable-persistence.test.ts as a child process (needs `npm run build`).
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import abstract from 'aedes-persistence/abstract.js';
import { DurablePersistence } from '../../dist/coordinator/broker/durable-persistence.js';
import { createLogger } from '../../dist/shared/log.js';

const root = mkdtempSync(join(tmpdir(), 'flotilla-abstract-'));
let n = 0;
const log = createLogger('abstract', 'error');

abstract({
  test,
  testAsync: true,
  persistence: () => new DurablePersistence({ dir: join(root, String(n++)), log, compactBytes: 2048 }),
});
