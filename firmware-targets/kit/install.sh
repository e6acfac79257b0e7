#!/bin/sh
# Install the Flotilla agent (@TARGET@) as a service. Run as root from the unpacked artifact:
#   sh kit/install.sh
# Puts the agent in place, the config template at /etc/flotilla/agent.json (kept if present) and a systemd unit,
# or a procd init script on OpenWrt. It does not start the service: fill in agent.json and the token first.
set -eu
kit=$(cd "$(dirname "$0")" && pwd)
kind=@KIND@
if [ "$kind" = sea ]; then
	install -m 755 "$kit/../flotilla-agent" /usr/local/bin/flotilla-agent
	exec_path=/usr/local/bin/flotilla-agent
else
	mkdir -p /opt/flotilla
	cp -a "$kit/../." /opt/flotilla/
	# Debian's libnode reads these builtins from /usr/share/nodejs; link them from the runtime tree.
	mkdir -p /usr/share/nodejs
	for m in /opt/flotilla/runtime/usr/share/nodejs/*; do
		[ -e "/usr/share/nodejs/$(basename "$m")" ] || ln -s "$m" "/usr/share/nodejs/$(basename "$m")"
	done
	exec_path=/opt/flotilla/bin/flotilla-agent
fi
mkdir -p /etc/flotilla /var/lib/flotilla
[ -e /etc/flotilla/agent.json ] || install -m 600 "$kit/agent.json" /etc/flotilla/agent.json
if command -v systemctl >/dev/null 2>&1 && [ -e "$kit/flotilla-agent.service" ]; then
	install -m 644 "$kit/flotilla-agent.service" /etc/systemd/system/flotilla-agent.service
	systemctl daemon-reload
	echo "installed $exec_path; edit /etc/flotilla/agent.json, put the token in /etc/flotilla/token, then: systemctl enable --now flotilla-agent"
elif [ -e /etc/rc.common ] && [ -e "$kit/flotilla-agent.procd" ]; then
	install -m 755 "$kit/flotilla-agent.procd" /etc/init.d/flotilla-agent
	echo "installed $exec_path; edit /etc/flotilla/agent.json, put the token in /etc/flotilla/token, then: /etc/init.d/flotilla-agent enable && /etc/init.d/flotilla-agent start"
else
	echo "installed $exec_path; no systemd or procd found: start it with FLOTILLA_CONFIG=/etc/flotilla/agent.json $exec_path"
fi
echo "check what it will use: FLOTILLA_CONFIG=/etc/flotilla/agent.json $exec_path --print-config"
