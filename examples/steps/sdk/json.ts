// Just enough JSON for steps: read the top-level fields of an object, write a flat object.

const QUOTE: i32 = 0x22;
const BACKSLASH: i32 = 0x5c;

function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function skipSpace(text: string, i: i32): i32 {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string starting at the quote at `i`, or -1. */
function endOfString(text: string, i: i32): i32 {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c == BACKSLASH) j++;
    else if (c == QUOTE) return j + 1;
  }
  return -1;
}

/** Index just past the value starting at `i` (strings, nested objects/arrays, literals), or -1. */
function endOfValue(text: string, i: i32): i32 {
  if (i >= text.length) return -1;
  const first = text.charCodeAt(i);
  if (first == QUOTE) return endOfString(text, i);
  if (first == 0x7b || first == 0x5b) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c == QUOTE) {
        j = endOfString(text, j);
        if (j < 0) return -1;
        j--;
      } else if (c == 0x7b || c == 0x5b) depth++;
      else if (c == 0x7d || c == 0x5d) {
        if (--depth == 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < text.length) {
    const c = text.charCodeAt(j);
    if (c == 0x2c || c == 0x7d || c == 0x5d || isSpace(c)) break;
    j++;
  }
  return j > i ? j : -1;
}

function unescape(body: string): string {
  if (body.indexOf("\\") < 0) return body;
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c != BACKSLASH || i + 1 >= body.length) {
      out += String.fromCharCode(c);
      continue;
    }
    const e = body.charCodeAt(++i);
    if (e == 0x6e) out += "\n";
    else if (e == 0x74) out += "\t";
    else if (e == 0x72) out += "\r";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else if (e == 0x75 && i + 4 < body.length) {
      out += String.fromCharCode(<i32>parseInt(body.substring(i + 1, i + 5), 16));
      i += 4;
    } else out += String.fromCharCode(e);
  }
  return out;
}

/** The top-level fields of a JSON object, each kept as its raw JSON text. */
export class JsonObject {
  private fields: Map<string, string> = new Map();

  /** Parses `{...}`; null when the text is not a JSON object. */
  static parse(text: string): JsonObject | null {
    const obj = new JsonObject();
    let i = skipSpace(text, 0);
    if (i >= text.length || text.charCodeAt(i) != 0x7b) return null;
    i = skipSpace(text, i + 1);
    if (i < text.length && text.charCodeAt(i) == 0x7d) return skipSpace(text, i + 1) == text.length ? obj : null;
    while (true) {
      if (i >= text.length || text.charCodeAt(i) != QUOTE) return null;
      const keyEnd = endOfString(text, i);
      if (keyEnd < 0) return null;
      const key = unescape(text.substring(i + 1, keyEnd - 1));
      i = skipSpace(text, keyEnd);
      if (i >= text.length || text.charCodeAt(i) != 0x3a) return null;
      i = skipSpace(text, i + 1);
      const valueEnd = endOfValue(text, i);
      if (valueEnd < 0) return null;
      obj.fields.set(key, text.substring(i, valueEnd));
      i = skipSpace(text, valueEnd);
      if (i >= text.length) return null;
      const c = text.charCodeAt(i);
      if (c == 0x7d) return skipSpace(text, i + 1) == text.length ? obj : null;
      if (c != 0x2c) return null;
      i = skipSpace(text, i + 1);
    }
  }

  has(key: string): bool {
    return this.fields.has(key);
  }

  /** The raw JSON text of a field, or "" when absent. */
  raw(key: string): string {
    return this.fields.has(key) ? this.fields.get(key) : "";
  }

  /** A numeric field, or NaN when absent or not a number. */
  number(key: string): f64 {
    const raw = this.raw(key);
    if (raw.length == 0) return NaN;
    const c = raw.charCodeAt(0);
    if (c != 0x2d && (c < 0x30 || c > 0x39)) return NaN;
    return parseFloat(raw);
  }

  /** A string field, or `fallback` when absent or not a string. */
  string(key: string, fallback: string = ""): string {
    const raw = this.raw(key);
    if (raw.length < 2 || raw.charCodeAt(0) != QUOTE) return fallback;
    return unescape(raw.substring(1, raw.length - 1));
  }

  bool(key: string, fallback: bool): bool {
    const raw = this.raw(key);
    return raw == "true" ? true : raw == "false" ? false : fallback;
  }
}

/** JSON text of a string. */
export function quote(text: string): string {
  let out = "\"";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == QUOTE) out += "\\\"";
    else if (c == BACKSLASH) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

/** JSON text of a number: integers without a fraction, non-finite numbers as null. */
export function numberText(value: f64): string {
  if (!isFinite(value)) return "null";
  if (value == Math.floor(value) && Math.abs(value) < 9007199254740992.0) return (<i64>value).toString();
  return value.toString();
}

/** Builds a flat JSON object: `new JsonWriter().str("a", "x").num("b", 1).end()`. */
export class JsonWriter {
  private text: string = "{";

  private key(key: string): void {
    if (this.text.length > 1) this.text += ",";
    this.text += quote(key) + ":";
  }

  str(key: string, value: string): JsonWriter {
    this.key(key);
    this.text += quote(value);
    return this;
  }

  num(key: string, value: f64): JsonWriter {
    this.key(key);
    this.text += numberText(value);
    return this;
  }

  /** A value that is already JSON text. */
  raw(key: string, json: string): JsonWriter {
    this.key(key);
    this.text += json;
    return this;
  }

  end(): string {
    return this.text + "}";
  }
}
