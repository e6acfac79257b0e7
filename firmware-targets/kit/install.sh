#!/bin/sh
# Install the Flotilla agent (@TARGET@) as a service. Run as root from the unpacked artifact:
#   sh kit/install.sh
# Puts the agent in slot A of @HOME@ (over-the-air updates install into slot B beside it), the A/B launcher at
# @EXEC@, the config template at /etc/flotilla/agent.json (kept if present) and a systemd unit, or a procd init
# script on OpenWrt. It does not start the service: fill in agent.json and the token first.
set -eu
kit=$(cd "$(dirname "$0")" && pwd)
home=@HOME@
if [ -e "$home/active" ]; then
	echo "$home already holds an installed agent (slot $(cat "$home/active")); it updates itself (flotilla rollout start --agent)." >&2
	echo "To flash again from scratch: stop the service, remove $home, then run this again." >&2
	exit 1
fi
mkdir -p "$home/slots/a"
if [ @KIND@ = sea ]; then
	cp -a "$kit/../flotilla-agent" "$kit" "$home/slots/a/"
else
	cp -a "$kit/.." "$home/slots/a/flotilla"
	# Debian's libnode reads these builtins from /usr/share/nodejs; link them through $home/nodejs, which the
	# agent's script points at the runtime of the slot it runs.
	ln -sfn "$home/slots/a/flotilla/runtime/usr/share/nodejs" "$home/nodejs"
	mkdir -p /usr/share/nodejs
	for m in "$home"/nodejs/*; do
		[ -e "/usr/share/nodejs/$(basename "$m")" ] || ln -s "$home/nodejs/$(basename "$m")" "/usr/share/nodejs/$(basename "$m")"
	done
fi
echo a > "$home/active"
install -m 755 "$kit/flotilla-launcher" @EXEC@
mkdir -p /etc/flotilla
[ -e /etc/flotilla/agent.json ] || install -m 600 "$kit/agent.json" /etc/flotilla/agent.json
if command -v systemctl >/dev/null 2>&1 && [ -e "$kit/flotilla-agent.service" ]; then
	install -m 644 "$kit/flotilla-agent.service" /etc/systemd/system/flotilla-agent.service
	systemctl daemon-reload
	echo "installed @EXEC@ (agent in $home/slots/a); edit /etc/flotilla/agent.json, put the token in /etc/flotilla/token, then: systemctl enable --now flotilla-agent"
elif [ -e /etc/rc.common ] && [ -e "$kit/flotilla-agent.procd" ]; then
	install -m 755 "$kit/flotilla-agent.procd" /etc/init.d/flotilla-agent
	echo "installed @EXEC@ (agent in $home/slots/a); edit /etc/flotilla/agent.json, put the token in /etc/flotilla/token, then: /etc/init.d/flotilla-agent enable && /etc/init.d/flotilla-agent start"
else
	echo "installed @EXEC@ (agent in $home/slots/a); no systemd or procd found: start it with FLOTILLA_CONFIG=/etc/flotilla/agent.json @EXEC@"
fi
echo "check what it will use: FLOTILLA_CONFIG=/etc/flotilla/agent.json $home/slots/a/@ENTRY@ --print-config"
