/**
 * OTP's restart intensity window (supervisor.erl `add_restart/3`): each restart is stamped with whole seconds of
 * monotonic time, newest first; stamps older than `period` seconds are dropped.
 */
export function addRestart(restarts: readonly number[], nowMs: number, period: number): number[] {
  // OTP: restart timestamps are whole seconds of monotonic time (erlang:monotonic_time(1)).
  const now = Math.floor(nowMs / 1000);
  // OTP: a restart is kept while it is at least Now - Period (lists:takewhile(fun (R) -> R >= Now - Period end, ...)).
  const kept = restarts.filter((r) => r >= now - period);
  return [now, ...kept];
}

/** OTP: the supervisor gives up when the kept restarts exceed `intensity` (so intensity 0 ends it at the first restart). */
export function exceedsIntensity(restarts: readonly number[], intensity: number): boolean {
  return restarts.length > intensity;
}
