// Threshold alarm: watches one numeric field of JSON messages and emits an alarm when it rises above a threshold,
// and a clear when it falls back to `threshold - hysteresis` or below (edge-triggered: one message per crossing).
// Config: {"field": "temp", "threshold": 80, "hysteresis": 2}
import { input, inputNumber, emit, warn, nowMs, Status, JsonObject, JsonWriter } from "../sdk";
export { alloc } from "../sdk";

let field = "";
let threshold: f64 = 0;
let hysteresis: f64 = 0;
let raised = false;

export function init(ptr: usize, len: i32): i32 {
  const config = JsonObject.parse(input(ptr, len));
  if (config == null || config.string("field").length == 0 || isNaN(config.number("threshold"))) {
    warn("config must be {\"field\": string, \"threshold\": number, \"hysteresis\"?: number}");
    return Status.Failed;
  }
  field = config.string("field");
  threshold = config.number("threshold");
  const h = config.number("hysteresis");
  hysteresis = isNaN(h) ? 0 : h;
  return Status.Continue;
}

export function process(ptr: usize, len: i32): i32 {
  const value = inputNumber(ptr, len, field);
  if (isNaN(value)) return Status.Continue;
  let state = "";
  if (!raised && value > threshold) state = "raised";
  else if (raised && value <= threshold - hysteresis) state = "cleared";
  if (state.length > 0) {
    raised = state == "raised";
    emit(new JsonWriter().str("alarm", state).str("field", field).num("value", value).num("threshold", threshold).num("at", nowMs()).end());
  }
  return Status.Continue;
}
