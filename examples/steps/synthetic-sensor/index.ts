// Synthetic sensor: one reading per input message (feed it a `{"cron": ...}` tick), a slow sine wave plus noise,
// for demos and tests without hardware. Emits {"<field>": value, "n": reading number}.
// Config: {"field": "temp", "base": 20, "amplitude": 8, "period": 30, "noise": 0.5, "seed": 1}
import { emit, warn, input, Status, JsonObject, JsonWriter } from "../sdk";
export { alloc } from "../sdk";

let field = "temp";
let base: f64 = 20;
let amplitude: f64 = 8;
let period: f64 = 30;
let noise: f64 = 0.5;
let state: u32 = 1;
let n: f64 = 0;

function orDefault(config: JsonObject, key: string, fallback: f64): f64 {
  const v = config.number(key);
  return isNaN(v) ? fallback : v;
}

export function init(ptr: usize, len: i32): i32 {
  const config = JsonObject.parse(input(ptr, len));
  if (config == null) {
    warn("config must be a JSON object");
    return Status.Failed;
  }
  if (config.string("field").length > 0) field = config.string("field");
  base = orDefault(config, "base", base);
  amplitude = orDefault(config, "amplitude", amplitude);
  period = orDefault(config, "period", period);
  noise = orDefault(config, "noise", noise);
  // xorshift32 needs a non-zero state.
  state = <u32>orDefault(config, "seed", 1) | 1;
  if (!(period > 0)) {
    warn("period must be a positive number of readings");
    return Status.Failed;
  }
  return Status.Continue;
}

/** Uniform in [-1, 1), deterministic for a seed (xorshift32). */
function jitter(): f64 {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return <f64>state / 2147483648.0 - 1.0;
}

export function process(ptr: usize, len: i32): i32 {
  const value = base + amplitude * Math.sin((2 * Math.PI * n) / period) + noise * jitter();
  n += 1;
  emit(new JsonWriter().num(field, Math.round(value * 100) / 100).num("n", n).end());
  return Status.Continue;
}
