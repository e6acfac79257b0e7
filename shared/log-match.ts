import type { LogLine, LogQuery } from './logs.js';

/**
 * Does `line` match `query`? One definition for the coordinator's ring, the dashboard's Logs panel and the CLI.
 * Free of zod (types only), so the dashboard bundle can use it.
 */
export function matchesLogQuery(line: LogLine, query: Pick<LogQuery, 'step' | 'level' | 'since'>): boolean {
  if (query.level === 'error' && line.level !== 'error') return false;
  if (query.since !== undefined && line.ts <= query.since) return false;
  if (query.step !== undefined && line.step !== query.step && !line.step?.startsWith(`${query.step}/`)) return false;
  return true;
}
