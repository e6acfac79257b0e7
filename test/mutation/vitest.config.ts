import { defineConfig } from 'vitest/config';

// The pure-core tests StrykerJS runs against each mutant (stryker.config.json): no sockets, no isolates, milliseconds.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: [
      'test/supervisor/core.test.ts',
      'test/supervisor/plan.test.ts',
      'test/foundation/acl.test.ts',
      'test/foundation/topics.test.ts',
      'test/federation/mapping.test.ts',
      'test/federation/pure.test.ts',
      'test/supervisor/core-edges.test.ts',
      'test/rollouts/planner.test.ts',
      'test/signing/revocation-rules.test.ts',
    ],
    pool: 'threads',
  },
});
