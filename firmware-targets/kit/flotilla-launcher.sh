#!/bin/sh
# Flotilla A/B launcher (@TARGET@): what the service runs. Arguments are agent flags. It starts the agent of the
# active slot; when an update is staged it starts the trial slot instead, and if that agent exits before it
# committed itself (joined and reported healthy) or has not committed within its deadline, it writes the reason to
# rolled-back and starts the previous slot again. Layout (docs/flashing.md, "Over-the-air agent updates"):
#   $FLOTILLA_HOME/active        the committed slot, "a" or "b" (written by the agent when a trial commits)
#   $FLOTILLA_HOME/trial         "SLOT DEADLINE_S REVISION VERSION" (written by the agent that staged an update)
#   $FLOTILLA_HOME/trial-failed  why a trial agent that joined found itself unhealthy (written by it, read here)
#   $FLOTILLA_HOME/rolled-back   "REVISION VERSION REASON" (written here, read by the agent)
#   $FLOTILLA_HOME/slots/{a,b}/  one release each
# POSIX sh only (busybox ash, dash): it must outlive every release it starts.
home=${FLOTILLA_HOME:-@HOME@}
entry=@ENTRY@
child=
stopping=
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT HUP

say() { echo "flotilla-launcher: $*" >&2; }

# Atomic replace: a power cut leaves the old or the new line, never half of one.
put() { printf '%s\n' "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }

while :; do
	active=$(cat "$home/active" 2>/dev/null) || active=a
	slot=$active
	trial=
	if [ -f "$home/trial" ]; then
		read -r t_slot t_deadline t_revision t_version < "$home/trial"
		# The agent commits by writing active first: a trial naming the active slot is committed already.
		if [ "$t_slot" = "$active" ]; then rm -f "$home/trial"; else slot=$t_slot; trial=1; fi
	fi
	rm -f "$home/trial-expired" "$home/trial-failed"
	[ -n "$trial" ] && say "starting slot $slot (version $t_version) on trial for ${t_deadline}s"
	FLOTILLA_HOME=$home FLOTILLA_SLOT=$slot FLOTILLA_TRIAL=$trial @EXEC_PREFIX@"$home/slots/$slot/$entry" "$@" &
	child=$!
	timer=
	if [ -n "$trial" ]; then
		# The deadline: a sleeping subshell that, unless the agent committed meanwhile, ends the trial agent.
		(
			trap 'kill "$nap" 2>/dev/null; exit 0' TERM
			sleep "$t_deadline" & nap=$!
			wait "$nap"
			[ "$(cat "$home/active" 2>/dev/null)" = "$slot" ] && exit 0
			: > "$home/trial-expired"
			kill -TERM "$child" 2>/dev/null
			sleep 5 & nap=$!
			wait "$nap"
			kill -KILL "$child" 2>/dev/null
		) &
		timer=$!
	fi
	# A trapped signal interrupts wait; wait again until the agent is really gone.
	wait "$child"
	code=$?
	while kill -0 "$child" 2>/dev/null; do
		wait "$child"
		code=$?
	done
	child=
	[ -n "$timer" ] && kill -TERM "$timer" 2>/dev/null && wait "$timer" 2>/dev/null
	rolled=
	if [ -n "$trial" ] && [ "$(cat "$home/active" 2>/dev/null)" != "$slot" ]; then
		if [ -f "$home/trial-failed" ]; then
			reason=$(cat "$home/trial-failed")
		elif [ -f "$home/trial-expired" ]; then
			reason="version $t_version did not join and report healthy within ${t_deadline}s"
		elif [ -n "$stopping" ]; then
			reason="version $t_version was stopped before it joined and reported healthy"
		else
			reason="version $t_version exited with code $code before it joined and reported healthy"
		fi
		say "rolled back to slot $active: $reason"
		put "$home/rolled-back" "$t_revision $t_version $reason"
		rm -f "$home/trial" "$home/trial-expired" "$home/trial-failed"
		rolled=1
	fi
	[ -n "$stopping" ] && exit 0
	# Back to the previous slot after a failed trial, or on to a trial the agent just staged.
	if [ -n "$rolled" ] || [ -f "$home/trial" ]; then continue; fi
	exit "$code"
done
