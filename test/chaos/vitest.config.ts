import { defineConfig } from 'vitest/config';

// `npm run test:chaos`: fuzzing, kills and stalls against real processes and brokers, bounded to a few minutes.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One at a time: these tests measure delays and kill processes; running them side by side would blur both.
    fileParallelism: false,
    setupFiles: ['test/setup/unhandled-rejections.ts'],
  },
});
