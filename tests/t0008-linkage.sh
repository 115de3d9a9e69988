#!/usr/bin/env bash
# bin/q links libc only.
. "$(dirname "$0")/lib.sh"

readelf -h "$Q" >/dev/null 2>&1
ok $? "bin/q is an ELF file"
needed=$(readelf -d "$Q" 2>/dev/null | sed -n -E 's/.*\(NEEDED\).*\[(.*)\].*/\1/p' | sort -u)
note "NEEDED: ${needed:-(none)}"
extra=$(grep -v -x -E 'libc\.so\.6' <<<"$needed" | grep .)
if grep -q -E '^lib(asan|ubsan)\.' <<<"$needed"; then
	# make check SANITIZE=1: the sanitizer runtimes are linked in on purpose.
	skip 2 "sanitizer build (make check SANITIZE=1)"
else
	is "$extra" "" "bin/q needs no shared library beyond libc.so.6"
	if [ -z "$needed" ]; then
		interp=$(readelf -l "$Q" 2>/dev/null | grep -c 'program interpreter')
		is "$interp" 0 "no NEEDED entries: bin/q is static (no interpreter)"
	else
		is "$needed" libc.so.6 "bin/q needs libc.so.6"
	fi
fi

# Library code never writes to standard output: it is the JSON-RPC
# channel of the MCP server.  Only main (src/q.c) and the commands
# (src/cmd/) may; the server itself (src/mcp/) writes to the descriptor
# q mcp gives it, never to 1 by name.  Checked on the objects (what they call) and the
# sources (descriptor 1 by number).
lib=$(cd "$TOP" && ls src/*.o src/spool/*.o src/mcp/*.o 2>/dev/null | grep -v -x 'src/q.o')
[ -n "$lib" ]
ok $? "the library objects are built"
calls=$(cd "$TOP" && for o in $lib; do
	nm -u "$o" | awk -v o="$o" '$NF ~ /^(stdout|printf|vprintf|puts|putchar|putchar_unlocked|__printf_chk|__vprintf_chk)$/ { print o ": " $NF }'
done)
is "$calls" "" "no library object refers to stdout, printf, puts or putchar"
fd1=$(cd "$TOP" && grep -n -E '(write|dprintf)\((1|STDOUT_FILENO)\b' src/*.c src/spool/*.c src/mcp/*.c | grep -v '^src/q\.c:')
is "$fd1" "" "no library source writes to descriptor 1"

done_testing
