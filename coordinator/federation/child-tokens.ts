import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, describeZodError, errorMessage } from '../../shared/errors.js';
import { ClusterName } from '../../shared/fleet-topics.js';

/** `--child-tokens-file`: `{ "cluster-name": "token", ... }`. Errors name the file and the entry. */
export function readChildTokensFile(path: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`--child-tokens-file: cannot read ${path}: ${errorMessage(err)}`);
  }
  const parsed = z.record(ClusterName, z.string().min(16, 'token must be at least 16 characters')).safeParse(data);
  if (!parsed.success) throw new ConfigError(`--child-tokens-file: ${path}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}
