import { defineConfig } from 'vitest/config';

// Default suite: fast tests. Slow emulation tests (test/slow, `npm run test:slow`) and chaos tests (test/chaos,
// `npm run test:chaos`) have their own configs.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/slow/**', 'test/chaos/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // A promise rejection nobody handled fails the test it surfaced in.
    setupFiles: ['test/setup/unhandled-rejections.ts'],
  },
});
