#!/bin/sh
# Flotilla agent launcher (@TARGET@): Debian's Node @NODE_VERSION@ with its own glibc, started through the shipped
# dynamic loader so the device's libc does not matter. Arguments are agent flags.
here=$(cd "$(dirname "$0")/.." && pwd)
rt="$here/runtime"
# Debian's libnode loads a few builtins (cjs-module-lexer, undici, acorn) from fixed /usr/share/nodejs paths.
if [ ! -e /usr/share/nodejs/cjs-module-lexer/lexer.js ]; then
	echo "flotilla-agent: /usr/share/nodejs is missing; run $here/kit/install.sh (or link $rt/usr/share/nodejs there)" >&2
	exit 1
fi
exec "$rt/@LOADER@" --library-path "$rt/@LIBDIR@" "$rt/usr/bin/node" "$here/lib/agent.cjs" "$@"
