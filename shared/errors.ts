import { z } from 'zod';

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

// ---- errors that teach -----------------------------------------------------------------------------------------

/** The raw issue zod hands an error map: the issue's fields plus the failing value and schema. */
interface RawIssue {
  code: string;
  input?: unknown;
  inst?: unknown;
  expected?: string;
  values?: unknown[];
  options?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
}

/**
 * Messages for a wrong type, value or alternative that name what is allowed and what was given:
 * `expected a number of ms, "brutal_kill" or "infinity", got "brutal-kill"`. Installed once for every zod schema
 * (spec, config, API, messages); a schema's own message still wins. A union's alternatives come from its options:
 * a `.describe()`d option by its description, a literal or enum by its values, anything else by its type.
 */
export function teachingMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required: expected ${typeNoun(issue.expected ?? 'value')}`;
      return `expected ${typeNoun(issue.expected ?? 'value')}, got ${shown(issue.input)}`;
    case 'invalid_value':
      return `expected ${oneOf((issue.values ?? []).map(json))}, got ${shown(issue.input)}`;
    case 'invalid_union': {
      // A discriminated union names the allowed discriminator values; a plain union, its options.
      const allowed = issue.options ? issue.options.map(json) : unionOptions(issue.inst)?.flatMap(expectation);
      if (!allowed?.length) return undefined;
      const given = issue.options && isRecord(issue.input) ? undefined : shown(issue.input);
      return `expected ${oneOf(allowed)}${given ? `, got ${given}` : ''}`;
    }
    case 'too_small':
    case 'too_big':
      return bound(issue);
    default:
      return undefined;
  }
}

/** `expected at least 0, got -4`; `expected at most 64 characters, got 70`. */
function bound(issue: RawIssue): string | undefined {
  const small = issue.code === 'too_small';
  const limit = small ? issue.minimum : issue.maximum;
  if (limit === undefined) return undefined;
  const word = small ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'less than' : 'at most';
  const input = issue.input;
  if (issue.origin === 'string' && typeof input === 'string') return `expected ${word} ${limit} characters, got ${input.length}`;
  if (issue.origin === 'array' && Array.isArray(input)) return `expected ${word} ${limit} items, got ${input.length}`;
  if (issue.origin === 'number' || issue.origin === 'bigint') return `expected ${word} ${limit}, got ${shown(input)}`;
  return undefined;
}

z.config({ customError: (issue) => teachingMessage(issue as RawIssue) });

interface SchemaInternals {
  _zod: { def: { type: string; values?: unknown[]; entries?: Record<string, unknown>; options?: unknown[] } };
  description?: string;
}

function unionOptions(inst: unknown): SchemaInternals[] | undefined {
  return (inst as SchemaInternals | undefined)?._zod?.def?.options as SchemaInternals[] | undefined;
}

function expectation(schema: SchemaInternals): string[] {
  if (schema.description) return [schema.description];
  const { def } = schema._zod;
  if (def.type === 'literal') return (def.values ?? []).map(json);
  if (def.type === 'enum') return Object.values(def.entries ?? {}).map(json);
  return [typeNoun(def.type)];
}

function typeNoun(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`. */
function oneOf(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? 'nothing') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

function json(value: unknown): string {
  return typeof value === 'bigint' ? `${value}` : (JSON.stringify(value) ?? String(value));
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The given value, short: scalars as JSON (cut at 60 characters), containers by kind. */
function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = json(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}
