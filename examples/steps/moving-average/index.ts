// Moving average: the mean of one numeric field over the last `window` JSON messages, one output per input.
// Config: {"field": "temp", "window": 5}
import { input, inputNumber, emit, warn, Status, JsonObject, JsonWriter } from "../sdk";
export { alloc } from "../sdk";

let field = "";
let ring: StaticArray<f64> = new StaticArray<f64>(0);
let next = 0;
let count = 0;
let sum: f64 = 0;

export function init(ptr: usize, len: i32): i32 {
  const config = JsonObject.parse(input(ptr, len));
  if (config == null || config.string("field").length == 0) {
    warn("config must be {\"field\": string, \"window\"?: integer 1..10000}");
    return Status.Failed;
  }
  const w = config.has("window") ? config.number("window") : 5;
  if (!(w >= 1 && w <= 10000) || w != Math.floor(w)) {
    warn("window must be an integer from 1 to 10000");
    return Status.Failed;
  }
  field = config.string("field");
  ring = new StaticArray<f64>(<i32>w);
  return Status.Continue;
}

export function process(ptr: usize, len: i32): i32 {
  const value = inputNumber(ptr, len, field);
  if (isNaN(value)) return Status.Continue;
  if (count == ring.length) sum -= ring[next];
  else count++;
  ring[next] = value;
  sum += value;
  next = (next + 1) % ring.length;
  emit(new JsonWriter().str("field", field).num("avg", sum / count).num("n", count).end());
  return Status.Continue;
}
