import { defineConfig } from 'vitest/config';

// Default suite: fast tests. Slow scenario/emulation tests live in test/slow and run via `npm run test:slow`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/slow/**', 'test/chaos/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
