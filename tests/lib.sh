# tests/lib.sh: sourced by every tests/tNNNN-name.sh.
#
# Each test runs in its own scratch directory (under ${TMPDIR:-/tmp}, removed
# on exit unless Q_TEST_KEEP=1) with its own spool, and talks TAP on stdout:
#
#	. "$(dirname "$0")/lib.sh"
#	run_q add -- true
#	is "$rc" 0 "add exits 0"
#	done_testing
#
# The environment is scrubbed of the caller's Q_* settings; HOME is the
# scratch directory; Q_SYNC_MODE=manual so that `q add` never starts a
# worker unless a test asks for one, and Q_WORKER_STAY=0 so that a worker
# an async add started leaves as soon as nothing is runnable (a staying
# worker would run a later manual add's job; t0031 tests staying). Every
# q started through q, run_q or q_bg is refused unless the spool it would
# use lies inside the scratch directory, so a test can never touch a real
# spool.
#
# Helpers:
#	plan N | done_testing        TAP plan (before / after the tests)
#	ok STATUS DESC               passes when STATUS (an exit status) is 0
#	check DESC CMD [ARG...]      runs CMD, passes when it exits 0
#	is GOT WANT DESC / isnt      string (in)equality, shows got/want
#	like GOT ERE DESC / unlike   bash =~ match
#	skip N REASON                N skipped tests
#	run_q ARG...                 q ARG... -> $out $err $rc (stdout, stderr, status);
#	                             killed after $RUN_Q_TIMEOUT (60) seconds; another
#	                             build of q with Q_BIN=PATH run_q ...; standard
#	                             input from a file with RUN_Q_STDIN=FILE run_q ...
#	q_bg NAME ARG...             q ARG... in background, output in NAME.out/.err,
#	                             pid in $bg_pid
#	wait_for CMD SECS            polls the shell command CMD every 0.05 s
#	jpy EXPR                     evaluates the Python EXPR on the JSON object
#	                             j read from stdin; prints str raw, else JSON
#	spool_listing                every path in the spool with type, mode,
#	                             size, mtime (to compare before / after)
#	job_file ID                  the path of job ID's file in the spool
#	make_id                      a fresh, syntactically valid job id
#	alive PID                    the process exists and is not a zombie
#	wait_gone SECS PID...        polls until none of PID is alive
#	now_ms                       wall clock in milliseconds

set -u

# --- the binary --------------------------------------------------------------

TEST_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$TEST_DIR/.." && pwd)
Q="$TOP/bin/q"
QDOC="$TOP/q.1"
test_name=$(basename "$0" .sh)

# --- environment -------------------------------------------------------------

_keep=${Q_TEST_KEEP:-0}
# Q_VALGRIND=DIR (make valgrind): every q runs under valgrind, logs in DIR.
if [ -n "${Q_VALGRIND:-}" ]; then
	export QTEST_VALGRIND_LOGS=$Q_VALGRIND
	Q="$TEST_DIR/valgrind-q"
fi
while IFS= read -r _v; do
	unset "$_v"
done < <(compgen -e | grep '^Q_')
unset _v GH_TOKEN GITHUB_TOKEN GIT_DIR GIT_WORK_TREE GIT_COMMON_DIR GIT_INDEX_FILE
export LC_ALL=C.UTF-8 TZ=UTC

scratch=$(mktemp -d "${TMPDIR:-/tmp}/q-$test_name.XXXXXX") || {
	echo "Bail out! cannot create a scratch directory"
	exit 255
}
scratch=$(cd -P "$scratch" && pwd)
chmod 0700 "$scratch"

export HOME="$scratch"
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=q-test GIT_AUTHOR_EMAIL=q-test@example.invalid
export GIT_COMMITTER_NAME=q-test GIT_COMMITTER_EMAIL=q-test@example.invalid
export Q_SPOOL="$scratch/spool"
export Q_SYNC_MODE=manual Q_WORKER_STAY=0
cd "$scratch" || exit 255

# python3 may be a slow shim (pyenv): resolve the interpreter once (make
# check does it for the whole suite, in QTEST_PYTHON) and call it directly.
if [ -z "${QTEST_PYTHON:-}" ] || [ ! -x "$QTEST_PYTHON" ]; then
	QTEST_PYTHON=$(command python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
fi
export QTEST_PYTHON
python3() {
	"${QTEST_PYTHON:-$(command -v python3)}" "$@"
}

# --- TAP -----------------------------------------------------------------------

_ntest=0
_nfail=0
_planned=
_done=

plan() {
	_planned=$1
	echo "1..$1"
}

done_testing() {
	_done=1
	if [ -z "$_planned" ]; then
		echo "1..$_ntest"
	fi
}

diag() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do
		printf '# %s\n' "$line" >&2
	done
}

note() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do
		printf '# %s\n' "$line"
	done
}

# ok STATUS DESC: STATUS is an exit status; 0 passes.
ok() {
	local status=$1
	shift
	_ntest=$((_ntest + 1))
	if [ "$status" = 0 ]; then
		echo "ok $_ntest - $*"
		return 0
	fi
	_nfail=$((_nfail + 1))
	echo "not ok $_ntest - $*"
	diag "  Failed test '$*' at ${BASH_SOURCE[1]##*/} line ${BASH_LINENO[0]}."
	return 1
}

# check DESC CMD [ARG...]: runs CMD; passes if it exits 0.
check() {
	local desc=$1
	shift
	"$@"
	local status=$?
	_ntest=$((_ntest + 1))
	if [ "$status" = 0 ]; then
		echo "ok $_ntest - $desc"
		return 0
	fi
	_nfail=$((_nfail + 1))
	echo "not ok $_ntest - $desc"
	diag "  Failed test '$desc' at ${BASH_SOURCE[1]##*/} line ${BASH_LINENO[0]}." \
		"  command exited $status: $*"
	return 1
}

_report() {
	# _report PASSED DESC GOT WANT WANTLABEL
	_ntest=$((_ntest + 1))
	if [ "$1" = 1 ]; then
		echo "ok $_ntest - $2"
		return 0
	fi
	_nfail=$((_nfail + 1))
	echo "not ok $_ntest - $2"
	diag "  Failed test '$2' at ${BASH_SOURCE[2]##*/} line ${BASH_LINENO[1]}." \
		"   got: '$3'" "  $5: '$4'"
	return 1
}

is() {
	local p=0
	[ "$1" = "$2" ] && p=1
	_report $p "$3" "$1" "$2" "want"
}

isnt() {
	local p=0
	[ "$1" != "$2" ] && p=1
	_report $p "$3" "$1" "$2" "anything but"
}

like() {
	local p=0
	[[ $1 =~ $2 ]] && p=1
	_report $p "$3" "$1" "$2" "want match"
}

unlike() {
	local p=0
	[[ $1 =~ $2 ]] || p=1
	_report $p "$3" "$1" "$2" "want no match"
}

skip() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		_ntest=$((_ntest + 1))
		echo "ok $_ntest # skip $*"
	done
}

bail_out() {
	echo "Bail out! $*"
	# From a subshell, stop the test script itself too.
	[ "$BASHPID" != $$ ] && kill -TERM $$
	exit 255
}

# --- running q ---------------------------------------------------------------

# _under_scratch PATH: PATH (absolute, no symlinks resolved) is in scratch.
_under_scratch() {
	case "$1" in
	"$scratch" | "$scratch"/*) return 0 ;;
	esac
	return 1
}

# _q_guard ARG...: refuses to start q on a spool outside the scratch dir.
_q_guard() {
	local dir=$PWD d
	if [ "${1-}" = "-C" ] && [ $# -ge 2 ]; then
		case "$2" in
		/*) dir=$2 ;;
		*) dir=$PWD/$2 ;;
		esac
		dir=$(cd -P "$dir" 2>/dev/null && pwd) || dir=$PWD
	fi
	if [ -n "${Q_SPOOL+set}" ]; then
		case "$Q_SPOOL" in
		/*) d=$Q_SPOOL ;;
		*) d=$dir/$Q_SPOOL ;;
		esac
		_under_scratch "$d" ||
			bail_out "refusing to run q with Q_SPOOL='$Q_SPOOL' outside '$scratch'"
		return 0
	fi
	_under_scratch "$dir" ||
		bail_out "refusing to run q in '$dir' (outside '$scratch') without Q_SPOOL"
	# Without Q_SPOOL q uses the enclosing git repository: make sure it
	# is one of ours.
	d=$dir
	while [ "$d" != / ]; do
		if [ -e "$d/.git" ]; then
			_under_scratch "$d" ||
				bail_out "refusing to run q: '$dir' is inside the repository '$d'"
			return 0
		fi
		d=$(dirname "$d")
	done
	return 0
}

q() {
	_q_guard "$@"
	"$Q" "$@"
}

out=
err=
rc=
run_q() {
	_q_guard "$@"
	# A hung q fails the test (status 124) instead of hanging the suite.
	timeout -k 5 "${RUN_Q_TIMEOUT:-60}" "${Q_BIN:-$Q}" "$@" \
		>"$scratch/.run_q.out" 2>"$scratch/.run_q.err" <"${RUN_Q_STDIN:-/dev/null}"
	rc=$?
	out=$(cat "$scratch/.run_q.out")
	err=$(cat "$scratch/.run_q.err")
	rm -f "$scratch/.run_q.out" "$scratch/.run_q.err"
	return 0
}

bg_pid=
q_bg() {
	local name=$1
	shift
	_q_guard "$@"
	"$Q" "$@" >"$scratch/$name.out" 2>"$scratch/$name.err" </dev/null &
	bg_pid=$!
}

# --- helpers -------------------------------------------------------------------

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# wait_for CMD SECS: true as soon as the shell command CMD succeeds.
wait_for() {
	local cmd=$1 secs=${2:-5} end
	end=$(($(now_ms) + ${secs%.*} * 1000))
	case "$secs" in
	*.*) end=$((end + 10#$(printf '%-3.3s' "${secs#*.}" | tr ' ' 0))) ;;
	esac
	while :; do
		eval "$cmd" >/dev/null 2>&1 && return 0
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.05
	done
	eval "$cmd" >/dev/null 2>&1
}

jpy() {
	python3 -c '
import json, sys
j = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))
' "$1"
}

spool_listing() {
	local s=${1:-$Q_SPOOL}
	[ -e "$s" ] || return 0
	find "$s" -printf '%P %y %m %s %T@ %i\n' 2>/dev/null | sort
}

job_file() {
	find "$Q_SPOOL" \( -path "$Q_SPOOL/logs" -o -path "$Q_SPOOL/keys" \
		-o -path "$Q_SPOOL/quarantine" -o -path "$Q_SPOOL/tmp" \) -prune \
		-o \( -name "$1" -o -name "[0-9]-$1" \) -type f -print 2>/dev/null | head -1
}

_b32=0123456789abcdefghjkmnpqrstvwxyz
make_id() {
	local ms i id= r
	ms=$(now_ms)
	for ((i = 0; i < 9; i++)); do
		id=${_b32:$((ms & 31)):1}$id
		ms=$((ms >> 5))
	done
	for ((i = 0; i < 5; i++)); do
		r=$((RANDOM & 31))
		id=$id${_b32:$r:1}
	done
	echo "$id"
}

alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

_none_alive() {
	local p
	for p in "$@"; do
		alive "$p" && return 1
	done
	return 0
}

# wait_gone SECS PID...: true once none of PID is alive.
wait_gone() {
	local secs=$1
	shift
	wait_for "_none_alive $*" "$secs"
}

# crash_at N Q-ARGS...: run q Q-ARGS killed just before its N-th call.
# Status 0 when it was killed there, 1 when it ran to its end; an exit
# other than 0 is added to $wrong.
crash_at() {
	local n=$1
	shift
	{ Q_FAULT=any:$n:KILL run_q "$@"; } 2>/dev/null # no "Killed"
	case $rc in
	137) return 0 ;;
	0) ;;
	*) wrong+="q $* at call $n: exit $rc: $err; " ;;
	esac
	return 1
}

# faults_report NAME NOTES OP...: the results of a tests/faults.sh run whose
# stdout is NAME.out, stderr NAME.err and exit status $status: for each OP
# no violation; the exit status; the summary; the lines of NAME.out that
# match NOTES (a grep pattern) as notes.
faults_report() {
	local name=$1 notes=$2 op v summary
	shift 2
	for op in "$@"; do
		v=$(grep -c "^faults: VIOLATION $op Q_FAULT" "$name.err")
		is "$v" 0 "$name in q $op: no violations"
		[ "$v" = 0 ] || diag "$(grep "^#   [0-9]*x $op " "$name.out" | head -20)"
	done
	ok "$status" "tests/faults.sh exits 0"
	[ "$status" = 0 ] || diag "$(grep -v '^faults: VIOLATION' "$name.err" | tail -5)"
	summary=$(grep '^faults: [0-9]* injected' "$name.out")
	like "$summary" "^faults: [1-9][0-9]* injected across $# operations, 0 violations$" "summary"
	note "$summary"
	grep "$notes" "$name.out" | while IFS= read -r l; do note "${l#\# }"; done
}

# --- cleanup -------------------------------------------------------------------

_cleanup() {
	local status=$? p cwd
	cd / || :
	# Background jobs of this script (workers, adds), then anything a job
	# left running in the scratch directory (found by its working
	# directory; never any other process).
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null
	done
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || continue
		_under_scratch "$cwd" && kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -z "$_done" ] && [ -z "$_planned" ]; then
		echo "# test exited early (status $status) without done_testing" >&2
		[ "$status" = 0 ] && status=255
	fi
	if [ -n "$_planned" ] && [ "$_ntest" != "$_planned" ]; then
		echo "# planned $_planned tests but ran $_ntest" >&2
		[ "$status" = 0 ] && status=255
	fi
	if [ "$_keep" = 1 ]; then
		echo "# kept scratch directory $scratch" >&2
	else
		chmod -R u+rwx "$scratch" 2>/dev/null
		rm -rf "$scratch"
	fi
	if [ "$status" = 0 ] && [ "$_nfail" -gt 0 ]; then
		status=$((_nfail > 254 ? 254 : _nfail))
	fi
	exit "$status"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$Q" ] || bail_out "$Q is not built (make bin/q)"
