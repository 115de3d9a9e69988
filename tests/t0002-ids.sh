#!/usr/bin/env bash
# Ids and prefixes, usage errors: exit statuses 2 and 4, one-line messages,
# and a spool left alone.
. "$(dirname "$0")/lib.sh"

# one_line_error DESC: $err is exactly one line starting with "q: ".
one_line_error() {
	local n
	n=$(printf '%s' "$err" | grep -c '')
	is "$n" 1 "$1: one line on stderr"
	like "$err" '^q: [^
]+$' "$1: stderr starts with 'q: '"
}

# --- usage errors before any spool exists -------------------------------------

usage_case() {
	local desc=$1 before
	shift
	before=$(spool_listing)
	run_q "$@"
	is "$rc" 2 "$desc: exit 2"
	one_line_error "$desc"
	is "$out" "" "$desc: nothing on stdout"
	is "$(spool_listing)" "$before" "$desc: spool unchanged"
}

usage_case "add --frob" add --frob -- true
check "a usage error creates no spool" test ! -e "$Q_SPOOL"
like "$err" "--frob" "the message names the bad option"

# --- jobs to work with --------------------------------------------------------

run_q add -- true
a=$out
run_q add -- true
b=$out
is "$rc" 0 "two jobs added"
isnt "$a" "$b" "two adds give two different ids"
[[ $a < $b ]]
ok $? "ids sort by creation time ('$a' < '$b')"

usage_case "add with no command" add
usage_case "add -- (empty command)" add --
usage_case "add --frob with a spool" add --frob -- true
usage_case "list --state nope" list --state nope
usage_case "list --frob" list --frob
usage_case "add -p 10" add -p 10 -- true
usage_case "add -p urgent" add -p urgent -- true
usage_case "add --attempts 0" add --attempts 0 -- true
usage_case "add --attempts x" add --attempts x -- true
usage_case "add --in 5parsecs" add --in 5parsecs -- true
usage_case "add --timeout -1s" add --timeout -1s -- true
usage_case "add --at not-a-time" add --at not-a-time -- true
usage_case "add --at with --in" add --at 23:00 --in 1h -- true
usage_case "add --after bad id" add --after '../x' -- true
usage_case "show without an id" show
usage_case "show with two ids" show "$a" "$b"
usage_case "result --wait --timeout soon" result --wait --timeout soon "$a"
usage_case "worker -j 0" worker -j 0
usage_case "worker --frob" worker --frob
usage_case "gc --older-than x" gc --older-than x

# --- invalid id syntax: exit 2, nothing read, nothing written ---------------

# A file a path-walking implementation would read.
mkdir -p "$scratch/etc"
echo 'root:x:0:0' >"$scratch/etc/passwd"

for bad in '../../etc/passwd' 'ZZ!' '' 'abc/def' '0123456789abcde' 'abcu' 'ab cd' '.' '-' '*'; do
	for cmd in show result log events; do
		usage_case "$cmd '$bad'" "$cmd" "$bad"
	done
done
# After --, where no option parsing can be blamed.
for bad in '../../etc/passwd' 'ZZ!'; do
	usage_case "cancel '$bad'" cancel "$bad"
done

# Nothing read: trace the file system calls of one invalid-id command.
if strace -f -qq -e trace=%file -o /dev/null true 2>/dev/null; then
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=%file -o trace.txt "$Q" show ../../etc/passwd >/dev/null 2>&1
	st=$?
	is "$st" 2 "show ../../etc/passwd under strace: exit 2"
	calls=$(grep -v -E '^[0-9]* *execve\(' trace.txt |
		grep -v -E '"(/etc/ld\.so|/lib|/usr/lib|/usr/share/locale|/usr/lib/locale)')
	is "$(grep -E 'passwd|\.\./' <<<"$calls" | head -3)" "" \
		"show ../../etc/passwd: no file system call names the id"
	is "$(grep -E 'spool|^[0-9]+ +[a-z0-9]+\((-?[0-9]+|AT_FDCWD), "[^/"]' <<<"$calls" | head -3)" "" \
		"show ../../etc/passwd: the spool is not even opened"
	rm -f trace.txt
else
	skip 3 "strace does not work here"
fi

# --- unknown ids: exit 4 -------------------------------------------------------

unknown=zzzzzzzzzzzzzz
for cmd in show result log events; do
	before=$(spool_listing)
	run_q "$cmd" "$unknown"
	is "$rc" 4 "$cmd of an unknown id: exit 4"
	one_line_error "$cmd of an unknown id"
	like "$err" "$unknown" "$cmd of an unknown id: the message names it"
	is "$(spool_listing)" "$before" "$cmd of an unknown id: spool unchanged"
done
run_q show --json "$unknown"
is "$rc" 4 "show --json of an unknown id: exit 4"
is "$out" "" "show --json of an unknown id: nothing on stdout"

# --- prefixes -------------------------------------------------------------------

# The longest common prefix of a and b names both: ambiguous.
lcp=
for ((i = 0; i < 14; i++)); do
	[ "${a:i:1}" = "${b:i:1}" ] || break
	lcp=$lcp${a:i:1}
done
note "ids $a $b share the prefix '$lcp'"
if [ ${#lcp} -ge 1 ]; then
	run_q show "$lcp"
	is "$rc" 4 "ambiguous prefix '$lcp': exit 4"
	one_line_error "ambiguous prefix"
	like "$err" "ambiguous" "ambiguous prefix: the message says ambiguous"
	run_q result "$lcp"
	is "$rc" 4 "result of an ambiguous prefix: exit 4"
else
	skip 4 "the two ids share no prefix"
fi
# Two jobs made within a second share their first five characters.
if [ "${a:0:5}" = "${b:0:5}" ]; then
	run_q show "${a:0:5}"
	is "$rc" 4 "prefix of length 5 of two fresh jobs is ambiguous"
else
	skip 1 "the two jobs straddle a 17-minute boundary"
fi

# One more character than the common prefix names exactly one job.
pa=${a:0:$((${#lcp} + 1))}
pb=${b:0:$((${#lcp} + 1))}
run_q show --json "$pa"
is "$rc" 0 "unique prefix '$pa' works"
is "$(jpy 'j["id"]' <<<"$out")" "$a" "unique prefix '$pa' names job a"
run_q result "$pb"
is "$rc" 5 "result of unique prefix '$pb' (pending job b): exit 5"
like "$out" "^$b pending" "result of a prefix prints the full id"
run_q show "$a"
is "$rc" 0 "the full id works"

# A prefix that matches nothing is unknown.
nomatch=$a
last=${a:13:1}
if [ "$last" = z ]; then nomatch=${a:0:13}y; else nomatch=${a:0:13}z; fi
[ "$nomatch" = "$b" ] && nomatch=${a:0:12}zz
run_q show "$nomatch"
is "$rc" 4 "an id that matches no job: exit 4"

# Prefixes find finished jobs too.
run_q worker --once
run_q result "$pa"
is "$rc" 0 "unique prefix of a completed job: exit 0"

# --- commands and global options -----------------------------------------------

before=$(spool_listing)
run_q nosuchcmd
is "$rc" 2 "unknown command: exit 2"
one_line_error "unknown command"
run_q --frob list
is "$rc" 2 "unknown global option: exit 2"
run_q -C "$scratch/does-not-exist" list
isnt "$rc" 0 "-C of a missing directory fails"
is "$(spool_listing)" "$before" "spool unchanged by those"

done_testing
