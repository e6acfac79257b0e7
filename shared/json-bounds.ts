import { ValidationError } from './errors.js';

/**
 * Bounds on a JSON value that crossed a boundary, checked before any schema sees it: a schema walks its input
 * recursively, and so do JSON.stringify and structured clone later on, so depth is what kills a process, not size.
 */
export interface JsonBounds {
  /** Nesting levels of arrays and objects (the value itself is level 0). */
  maxDepth: number;
  /** UTF-16 code units per string, keys included. */
  maxString: number;
  /** Elements per array. */
  maxArray: number;
  /** Keys per object. */
  maxKeys: number;
  /** Bytes of the JSON text (checked by `parseBoundedJson` before parsing). */
  maxBytes: number;
}

/** What every message, body, spec and file is held to unless its reader says otherwise (docs/protocol.md, "Bounds"). */
export const DEFAULT_JSON_BOUNDS: JsonBounds = {
  maxDepth: 32,
  maxString: 65_536,
  maxArray: 10_000,
  maxKeys: 1_000,
  maxBytes: 1_048_576,
};

/**
 * Throws a ValidationError naming the first bound hit and where (`what: a.b.3: nested deeper than 32 levels`).
 * Iterative, so a hostile depth cannot overflow this check's own stack; breadth first over parallel arrays, so the
 * hot path (health at 10k/s) allocates no object per value, while each value's parent and key stay to say where.
 */
export function checkJsonBounds(value: unknown, what: string, bounds: JsonBounds = DEFAULT_JSON_BOUNDS): void {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  const parents: number[] = [-1];
  const keys: Array<string | number> = [''];
  const fail = (i: number, why: string): never => {
    const parts: Array<string | number> = [];
    for (let j = i; j > 0; j = parents[j]) parts.unshift(keys[j]);
    throw new ValidationError(`${what}: ${parts.length ? parts.join('.') : '(root)'}: ${why}`);
  };
  const visit = (child: unknown, depth: number, parent: number, key: string | number) => {
    values.push(child);
    depths.push(depth);
    parents.push(parent);
    keys.push(key);
  };
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string') {
      if (v.length > bounds.maxString) fail(i, `string of ${v.length} characters is longer than the limit of ${bounds.maxString}`);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depths[i] >= bounds.maxDepth) fail(i, `nested deeper than ${bounds.maxDepth} levels`);
    const depth = depths[i] + 1;
    if (Array.isArray(v)) {
      if (v.length > bounds.maxArray) fail(i, `array of ${v.length} elements is longer than the limit of ${bounds.maxArray}`);
      for (let k = 0; k < v.length; k++) visit(v[k], depth, i, k);
      continue;
    }
    const own = Object.keys(v);
    if (own.length > bounds.maxKeys) fail(i, `object with ${own.length} keys has more than the limit of ${bounds.maxKeys}`);
    for (const key of own) {
      if (key.length > bounds.maxString) fail(i, `key of ${key.length} characters is longer than the limit of ${bounds.maxString}`);
      visit((v as Record<string, unknown>)[key], depth, i, key);
    }
  }
}

/** JSON.parse with the size checked before and the shape bounds after; errors are ValidationErrors naming the bound. */
export function parseBoundedJson(text: string | Uint8Array, what: string, bounds: JsonBounds = DEFAULT_JSON_BOUNDS): unknown {
  const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
  if (bytes > bounds.maxBytes) throw new ValidationError(`${what}: ${bytes} bytes is more than the limit of ${bounds.maxBytes}`);
  let json: unknown;
  try {
    json = JSON.parse(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
  } catch {
    throw new ValidationError(`${what}: payload is not valid JSON`);
  }
  checkJsonBounds(json, what, bounds);
  return json;
}
