import { z } from 'zod';

/**
 * Supervisor events: the observable contract of a supervision tree (docs/supervision.md). Each travels as an
 * EventMessage on `flotilla/d/<id>/events` with `type` = the event type and `data` = the other fields.
 * `supervisor` is a supervisor's path (child ids from the root, the root id first, joined by `/`); `child` is the
 * child's id within that supervisor.
 */

/**
 * Why a child stopped, as in the step ABI. `normal`, `shutdown` and `shutdown:<detail>` (OTP's `{shutdown, Term}`)
 * are clean; everything else is abnormal, and may end with `: <the step's last warn or error line>`.
 */
export const ExitReason = z
  .string()
  .regex(
    /^(normal|shutdown|shutdown:.*|(killed|timeout|output_limit|exit:-?\d+)(: .*)?|trap:.*|start_failed:.*)$/s,
    'must be normal, shutdown[:<detail>], killed, timeout, output_limit, exit:<code>, trap:<message> or start_failed:<message> (abnormal ones optionally followed by ": <last log line>")',
  );
export type ExitReason = z.infer<typeof ExitReason>;

/** OTP: `normal`, `shutdown` and `{shutdown, _}` are clean exits; a transient child is not restarted after them. */
export function isCleanExit(reason: string): boolean {
  return reason === 'normal' || reason === 'shutdown' || reason.startsWith('shutdown:');
}

const supervisorPath = z.string().min(1);

export const ChildStartedEvent = z.strictObject({
  type: z.literal('child_started'),
  supervisor: supervisorPath,
  child: z.string().min(1),
});
export const ChildTerminatedEvent = z.strictObject({
  type: z.literal('child_terminated'),
  supervisor: supervisorPath,
  child: z.string().min(1),
  reason: ExitReason,
});
export const ReachedMaxRestartIntensityEvent = z.strictObject({
  type: z.literal('reached_max_restart_intensity'),
  supervisor: supervisorPath,
});
export const SupervisorShutdownEvent = z.strictObject({
  type: z.literal('supervisor_shutdown'),
  supervisor: supervisorPath,
  reason: ExitReason,
});

export const SupervisorEvent = z.discriminatedUnion('type', [
  ChildStartedEvent,
  ChildTerminatedEvent,
  ReachedMaxRestartIntensityEvent,
  SupervisorShutdownEvent,
]);
export type SupervisorEvent = z.infer<typeof SupervisorEvent>;
export type SupervisorEventType = SupervisorEvent['type'];

/** The `data` of an EventMessage carrying this event (everything but `type`). */
export function eventData(event: SupervisorEvent): Record<string, string> {
  const { type: _type, ...data } = event;
  return data;
}
