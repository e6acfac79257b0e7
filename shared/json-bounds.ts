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

interface Frame {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
}

/** The path is rebuilt only on failure: the hot path (health at 10k/s) allocates one frame per value, no arrays. */
function pathOf(frame: Frame): string {
  const parts: Array<string | number> = [];
  for (let f: Frame | undefined = frame; f?.key !== undefined; f = f.parent) parts.unshift(f.key);
  return parts.length ? parts.join('.') : '(root)';
}

/**
 * Throws a ValidationError naming the first bound hit and where (`what: a.b.3: nested deeper than 32 levels`).
 * Iterative, so a hostile depth cannot overflow this check's own stack.
 */
export function checkJsonBounds(value: unknown, what: string, bounds: JsonBounds = DEFAULT_JSON_BOUNDS): void {
  const stack: Frame[] = [{ value, depth: 0, key: undefined, parent: undefined }];
  const fail = (frame: Frame, why: string): never => {
    throw new ValidationError(`${what}: ${pathOf(frame)}: ${why}`);
  };
  while (stack.length) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (typeof v === 'string') {
      if (v.length > bounds.maxString) fail(frame, `string of ${v.length} characters is longer than the limit of ${bounds.maxString}`);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (frame.depth >= bounds.maxDepth) fail(frame, `nested deeper than ${bounds.maxDepth} levels`);
    const depth = frame.depth + 1;
    if (Array.isArray(v)) {
      if (v.length > bounds.maxArray) fail(frame, `array of ${v.length} elements is longer than the limit of ${bounds.maxArray}`);
      for (let i = 0; i < v.length; i++) stack.push({ value: v[i], depth, key: i, parent: frame });
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > bounds.maxKeys) fail(frame, `object with ${keys.length} keys has more than the limit of ${bounds.maxKeys}`);
    for (const key of keys) {
      if (key.length > bounds.maxString) fail(frame, `key of ${key.length} characters is longer than the limit of ${bounds.maxString}`);
      stack.push({ value: (v as Record<string, unknown>)[key], depth, key, parent: frame });
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
