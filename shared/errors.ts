import type { z } from 'zod';

/** A bad flag, environment variable or config-file value: reported as one line naming it, exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Input that crossed a boundary and failed its schema. `message` says what is wrong and where. */
export class ValidationError extends Error {
  override name = 'ValidationError';
}

/** One line per zod issue, each prefixed with the JSON path of the offending value. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
