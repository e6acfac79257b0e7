/**
 * Metering at load (docs/step-abi.md, "What the host adds to a module"): `meter(wasm)` rewrites a step module so
 * that its host can preempt it in a shared thread. The host supplies `flotilla_meter.tick` and sets
 * `instance.exports.flotilla_fuel.value` before each call; `tick` either throws (trapping only that instance) or
 * refills the fuel and returns.
 */
export { meter, METER_TICK, METER_FUEL, MAX_CHECK_COST, type MeterOptions } from './meter.js';
export { MeteringError } from './errors.js';
