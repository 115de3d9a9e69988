#!/usr/bin/env bash
# q remote: two q-remote processes of one spool racing each other, each
# reproduced by stopping one (gdb) between two of its steps while the other
# acts; and q cancel of a retried job whose forward a crash cut short.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

pg_start
export Q_REMOTE_URL
q remote init >/dev/null
other=$scratch/other/spool
mkdir -p "$scratch/other"
Q_SPOOL=$other q remote sync >/dev/null
S="Q_SPOOL='$Q_SPOOL' '$Q'"
remote_state() { pg_psql -c "select state from q.job where id = '$1'"; }
runs() { wc -l <"$scratch/runs-$1"; }

# --- q cancel of a retried job a crash kept from being sent ---------------------
c=$(q add -- sh -c "echo run >>'$scratch/runs-c'; exit 1")
q remote sync >/dev/null
run_q remote worker
q retry "$c" >/dev/null
crash_find "$Q_SPOOL" '[ -e "$Q_SPOOL/forwarded/$c" ] && [ "$(remote_state "$c")" = failed ]' \
	remote sync
ok "$([ -n "$found" ]; echo $?)" "a retried job's forward cut short after its move (call $found)"
run_q cancel "$c"
is "$rc:$err" "0:" "q cancel of it succeeds"
q remote sync >/dev/null
Q_SPOOL=$other run_q remote worker
q remote sync >/dev/null
is "$(q show --json "$c" | jpy 'j["state"]'):$(runs c)" cancelled:1 \
	"the retry is sent first, then cancelled: it does not run"

# --- races, with one q-remote stopped by gdb ------------------------------------
if ! command -v gdb >/dev/null; then
	skip 3 "no gdb (contrib/install-deps installs it)"
	done_testing
	exit 0
fi
# stopped ARGS FUNCTION SHELL [FUNCTION SHELL...]: run q-remote ARGS under
# gdb; stopped at each FUNCTION in turn, run SHELL (if any) while it waits;
# then let it end.
stopped() {
	local args=$1 go=run script=(-ex 'set breakpoint pending on')
	shift
	while [ $# -ge 2 ]; do
		script+=(-ex "break $1" -ex "$go" -ex delete)
		[ -z "$2" ] || script+=(-ex "shell $2")
		go=continue
		shift 2
	done
	# LeakSanitizer cannot run under ptrace (a SANITIZE=1 build).
	ASAN_OPTIONS=detect_leaks=0 gdb -q -batch "${script[@]}" -ex continue \
		--args "$TOP/bin/q-remote" $args >>"$scratch/gdb.out" 2>&1
}

# B's resend read that the remote lacks the job; before B locks it, A sends
# it and another host runs it.  B must not send it again.
j=$(q add -- sh -c "echo run >>'$scratch/runs-j'")
crash_find "$Q_SPOOL" '[ -e "$Q_SPOOL/forwarded/$j" ] && [ -z "$(remote_state "$j")" ]' \
	remote sync
stopped sync remote_resend "" spool_lock "$S remote sync; Q_SPOOL='$other' '$Q' remote worker"
Q_SPOOL=$other run_q remote worker
q remote sync >/dev/null
is "$(q show --json "$j" | jpy 'j["state"]'):$(runs j)" completed:1 \
	"a resend whose job was sent meanwhile does not send it again (it ran once)"

# B read the verdicts to bring back; before it locks the job, A brings the
# verdict back, the job is retried and A forwards it anew.  B must leave the
# new run alone: its verdict comes back in turn.
k=$(q add -- sh -c "echo run >>'$scratch/runs-k'; echo run \$(wc -l <'$scratch/runs-k'); exit 1")
q remote sync >/dev/null
Q_SPOOL=$other run_q remote worker
stopped "sync --verdicts" remote_mirror "" spool_locate "$S remote sync; $S retry $k; $S remote sync"
Q_SPOOL=$other run_q remote worker
q remote sync >/dev/null
is "$(q show --json "$k" | jpy 'j["state"]'):$(q log "$k"):$(runs k)" "failed:run 2:2" \
	"a verdict brought back from a stale list does not swallow a retry's run"

# The same when B, resumed after A brought the verdict back, finds the job
# no longer in forwarded/, and stops again before it marks the row brought
# back: the retry forwarded meanwhile is a new run, not to be marked.
m=$(q add -- sh -c "echo run >>'$scratch/runs-m'; echo run \$(wc -l <'$scratch/runs-m'); exit 1")
q remote sync >/dev/null
Q_SPOOL=$other run_q remote worker
stopped "sync --verdicts" remote_mirror "" spool_locate "$S remote sync" \
	pg_exec "$S retry $m; $S remote sync"
Q_SPOOL=$other run_q remote worker
q remote sync >/dev/null
is "$(q show --json "$m" | jpy 'j["state"]'):$(q log "$m"):$(runs m)" "failed:run 2:2" \
	"nor does one that found the job brought back: the retry's verdict comes back"

run_q fsck
is "$rc:$out" "0:" "the spool is consistent"
run_q remote fsck
is "$rc:$out" "0:" "and the remote"
done_testing
