import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Slow suite (`npm run test:slow`): scenario and emulation tests over built artifacts; one file at a time on 2 cores.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/slow/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    fileParallelism: false,
    setupFiles: ['test/setup/unhandled-rejections.ts'],
  },
});
