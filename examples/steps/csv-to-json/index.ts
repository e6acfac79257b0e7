// CSV to JSON: each input is one CSV line (RFC 4180 quoting); each data row becomes one JSON object.
// The first line is the header unless the config names the columns. Numeric cells become JSON numbers.
// Config (optional): {"columns": "time,sensor,value", "separator": ","}
import { input, emit, warn, Status, JsonObject, JsonWriter } from "../sdk";
export { alloc } from "../sdk";

let columns: string[] = [];
let separator: i32 = 0x2c;

export function init(ptr: usize, len: i32): i32 {
  if (len == 0) return Status.Continue;
  const config = JsonObject.parse(input(ptr, len));
  if (config == null) {
    warn("config must be a JSON object");
    return Status.Failed;
  }
  const sep = config.string("separator", ",");
  if (sep.length != 1) {
    warn("separator must be one character");
    return Status.Failed;
  }
  separator = sep.charCodeAt(0);
  if (config.has("columns")) columns = splitLine(config.string("columns"), 0x2c); // the column list is always comma-separated
  return Status.Continue;
}

/** Splits one CSV line; `"` quotes a cell, `""` inside quotes is a literal quote. */
function splitLine(line: string, separator: i32): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) == 0x0d) end--;
  for (let i = 0; i < end; i++) {
    const c = line.charCodeAt(i);
    if (quoted) {
      if (c == 0x22 && i + 1 < end && line.charCodeAt(i + 1) == 0x22) {
        cell += "\"";
        i++;
      } else if (c == 0x22) quoted = false;
      else cell += String.fromCharCode(c);
    } else if (c == 0x22) quoted = true;
    else if (c == separator) {
      cells.push(cell);
      cell = "";
    } else cell += String.fromCharCode(c);
  }
  cells.push(cell);
  return cells;
}

/** True when the whole cell is a JSON-style number. */
function isNumber(cell: string): bool {
  if (cell.length == 0) return false;
  let i = 0;
  if (cell.charCodeAt(0) == 0x2d) i++;
  let digits = 0;
  let dot = false;
  let exp = false;
  for (; i < cell.length; i++) {
    const c = cell.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits++;
    else if (c == 0x2e && !dot && !exp && digits > 0) dot = true;
    else if ((c == 0x65 || c == 0x45) && !exp && digits > 0) {
      exp = true;
      digits = 0;
      if (i + 1 < cell.length && (cell.charCodeAt(i + 1) == 0x2b || cell.charCodeAt(i + 1) == 0x2d)) i++;
    } else return false;
  }
  return digits > 0;
}

export function process(ptr: usize, len: i32): i32 {
  const line = input(ptr, len);
  if (line.trim().length == 0) return Status.Continue;
  const cells = splitLine(line, separator);
  if (columns.length == 0) {
    columns = cells;
    return Status.Continue;
  }
  if (cells.length != columns.length) {
    warn("skipped a row with " + cells.length.toString() + " cells, expected " + columns.length.toString());
    return Status.Continue;
  }
  const row = new JsonWriter();
  for (let i = 0; i < cells.length; i++) {
    if (isNumber(cells[i])) row.num(columns[i], parseFloat(cells[i]));
    else row.str(columns[i], cells[i]);
  }
  emit(row.end());
  return Status.Continue;
}
