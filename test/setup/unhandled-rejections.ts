import { afterEach } from 'vitest';
import { createLogger } from '../../shared/log.js';
import { watchUnhandledRejections } from '../../shared/unhandled-rejections.js';

/**
 * Every test file: a promise rejection nobody handled fails the test during which it surfaced, with its origin
 * (the same watcher the coordinator and agent processes install).
 */
const lines: string[] = [];
watchUnhandledRejections(createLogger('test', 'error', (line) => lines.push(line)));

afterEach(() => {
  if (lines.length === 0) return;
  const seen = lines.splice(0);
  throw new Error(`${seen.length} unhandled rejection(s) during this test:\n${seen.join('\n')}`);
});
