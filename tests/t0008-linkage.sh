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

# And starts fast: 50 runs of `q --version` well under a second each.
t0=$(now_ms)
for i in $(seq 50); do "$Q" --version >/dev/null; done
t1=$(now_ms)
note "50 x q --version: $((t1 - t0)) ms"
[ $((t1 - t0)) -lt 5000 ]
ok $? "50 x q --version in under 5 s"

done_testing
