/**
 * Supervision trees with Erlang/OTP `supervisor` semantics (docs/supervision.md).
 *
 * - `SupervisorCore`: the pure state machine of a whole tree. Inputs are method calls (`start`, `stop`, `started`,
 *   `startFailed`, `exited`, `timerFired`, `startChild`, `terminateChild`, `apply`); each returns the `Decision`s to
 *   carry out, in order (start/stop/kill a worker, set/clear a shutdown timer, swap a step, an event).
 * - `diffChildren(current, desired)`: the pure desired-state diff that `apply` carries out.
 * - `SupervisorRunner`: drives real step instances (agent/runtime) from the core's decisions; the caller feeds inputs
 *   and publishes outputs and events.
 */
export { SupervisorCore, CommandError, type Clock, type Decision, type ChildPhase, type ChildSnapshot, type Status } from './core.js';
export { diffChildren, type ChildChange } from './plan.js';
export { SupervisorRunner, type RunnerOptions } from './runner.js';
export { EventLog, type LoggedEvent } from './event-log.js';
export { RestartBuffer } from './restart-buffer.js';
