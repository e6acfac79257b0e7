#!/bin/sh
# Flotilla agent (@TARGET@): Debian's Node @NODE_VERSION@ with its own glibc, started through the shipped dynamic
# loader so the device's libc does not matter. Arguments are agent flags.
here=$(cd "$(dirname "$0")/.." && pwd)
rt=$(cd "$here/runtime" && pwd -P)
# Debian's libnode loads a few builtins (cjs-module-lexer, undici, acorn) from fixed /usr/share/nodejs paths, which
# install.sh links to $FLOTILLA_HOME/nodejs: point that at this slot's runtime (an update may bring another one).
# Under qemu-user (FLOTILLA_EMULATOR, a test host) -L resolves them inside the runtime tree instead.
[ -n "$FLOTILLA_HOME" ] && [ -z "$FLOTILLA_EMULATOR" ] && ln -sfn "$rt/usr/share/nodejs" "$FLOTILLA_HOME/nodejs"
if [ -z "$FLOTILLA_EMULATOR" ] && [ ! -e /usr/share/nodejs/cjs-module-lexer/lexer.js ]; then
	echo "flotilla-agent: /usr/share/nodejs is missing; run kit/install.sh (or link $rt/usr/share/nodejs there)" >&2
	exit 1
fi
exec ${FLOTILLA_EMULATOR:+$FLOTILLA_EMULATOR -L "$rt"} "$rt/@LOADER@" --library-path "$rt/@LIBDIR@" "$rt/usr/bin/node" "$here/lib/agent.cjs" "$@"
