#!/usr/bin/env bash
# kill -9 of a worker in the middle of a job: the job's process group dies
# with it, and the next worker (or fsck --repair) recovers the job.
. "$(dirname "$0")/lib.sh"

# The job records its shell's and its child's pids; the first attempt
# blocks, a later one succeeds (marker file).
job='echo $$ >>sh.pids; sleep 30 & echo $! >>child.pids
if [ -e marker ]; then kill $!; exit 0; fi
touch marker; echo started >started; wait'

# --- default settings: the job runs again and completes ---------------------

run_q add -- sh -c "$job"
id=$out
q_bg w1 worker --once
w=$bg_pid
wait_for 'test -s started' 10
ok $? "the job started"
shpid=$(head -1 sh.pids)
chpid=$(head -1 child.pids)
check "job shell $shpid is alive" alive "$shpid"
check "job child $chpid is alive" alive "$chpid"

{ kill -KILL "$w" && wait "$w"; } 2>/dev/null
wait "$w" 2>/dev/null
check "after kill -9 of the worker, the job's processes are gone within 2 s" \
	wait_gone 2 "$shpid" "$chpid"

run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" running "the job still reads as running"
run_q fsck
is "$rc" 1 "fsck exits 1: a file in running/ is not locked"
like "$out$err" "$id" "fsck names the job"

run_q worker --once
is "$rc" 0 "the next worker exits 0"
run_q result "$id"
is "$rc" 0 "with job.attempts 1, the recovered job ran again and completed"
run_q show --json "$id"
is "$(jpy 'j["attempts"]' <<<"$out")" 1 "the killed attempt cost no attempt"
is "$(jpy '[h["error"] for h in j["history"]]' <<<"$out")" '["worker_died", null]' \
	"history: the interrupted attempt (worker_died), then the one that completed"
is "$(wc -l <sh.pids)" 2 "the command ran exactly twice"
run_q events "$id"
like "$out" '"event": ?"requeued"' "events: requeued"
like "$out" 'worker_died' "events: reason worker_died"
run_q fsck
is "$rc" 0 "fsck exits 0 after recovery"
[ "$rc" = 0 ] || diag "$out" "$err"

# --- job.max_interrupts 1: failed with worker_died, via fsck --repair ----------

rm -f marker started sh.pids child.pids
Q_JOB_MAX_INTERRUPTS=1 run_q add -- sh -c "$job"
id=$out
q_bg w2 worker --once
w=$bg_pid
wait_for 'test -s started' 10
ok $? "second job started"
shpid=$(head -1 sh.pids)
chpid=$(head -1 child.pids)
{ kill -KILL "$w" && wait "$w"; } 2>/dev/null
wait "$w" 2>/dev/null
check "second job's processes are gone within 2 s" wait_gone 2 "$shpid" "$chpid"

run_q fsck
is "$rc" 1 "fsck exits 1 before repair"
run_q fsck --repair
note "fsck --repair: rc=$rc"
run_q result "$id"
is "$rc" 1 "after fsck --repair, a job whose interrupts are spent failed"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" failed "status failed"
is "$(jpy 'j["error"]' <<<"$out")" worker_died "error worker_died"
check "the job file is in failed/" test -f "$Q_SPOOL/failed/${id:0:4}/$id"
run_q fsck
is "$rc" 0 "fsck exits 0 after repair"
is "$(wc -l <sh.pids)" 1 "the command ran once"

# --- a job that kills its own worker every time -------------------------------

# The worker is the parent of the job's supervisor, the job's parent.
killer='read -r l </proc/$PPID/stat; set -- ${l##*) }; echo x >>runs; kill -KILL $2; sleep 5'
run_q add -- sh -c "$killer"
id=$out
# Each killed worker's supervisor ends the job's processes, then lets go
# of the job's lock; the next worker recovers it once the lock is free.
unlocked() {
	[ ! -e "$Q_SPOOL/running/$id" ] || flock -n "$Q_SPOOL/running/$id" true
}
for i in 1 2 3 4; do
	q_bg "w$i" worker --once
	wait "$bg_pid" 2>/dev/null
	note "worker $i: rc=$?"
	wait_for unlocked 5
done
run_q result "$id"
is "$rc" 1 "a job that kills its worker every time fails"
run_q show --json "$id"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "worker_died"]' \
	"failed with worker_died after job.max_interrupts (3)"
is "$(wc -l <runs)" 3 "it ran exactly 3 times"
run_q fsck
is "$rc" 0 "fsck is clean"


# --- a cancel that lands while recovery settles the job ------------------------

# q cancel appends its event without the job's lock: one that comes after
# recovery read the log but before recovery's own final event still wins,
# and the job ends where the log's verdict says.  strace holds recovery's
# write to the event log for 1.5 s while the cancel runs.
# orphan NAME [ENV=VALUE...]: a job whose worker was killed mid-run (its
# id in $id, its event log in $ev); slowly Q: q, its write to that log
# held 1.5 s by strace.
orphan() {
	local name=$1
	shift
	env "$@" "$Q" add -- sh -c "echo started >$name; sleep 30" >id.out
	id=$(cat id.out)
	ev="$Q_SPOOL/logs/${id:0:4}/$id.events"
	q_bg "$name" worker --once
	wait_for "test -s $name" 10
	{ kill -KILL "$bg_pid" && wait "$bg_pid"; } 2>/dev/null
	wait_for unlocked 5
}
slowly() {
	ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null -P "$ev" \
		-e trace=write -e inject=write:delay_enter=1500000 "$Q" "$@"
}
if strace -f -qq -e trace=write -o /dev/null true 2>/dev/null; then
	orphan started2 Q_JOB_MAX_INTERRUPTS=1
	slowly worker --once >recover.out 2>recover.err &
	r=$!
	# Recovery locks the job, reads its log, and is held in its write.
	wait_for '! unlocked' 10
	sleep 0.2
	run_q cancel "$id"
	is "$rc" 0 "q cancel while recovery settles the job exits 0"
	wait "$r"
	is "$?" 0 "the recovering worker exits 0"
	run_q show --json "$id"
	is "$(jpy '[j["status"], j["state"]]' <<<"$out")" '["cancelled", "cancelled"]' \
		"the job is cancelled: the cancel came first in its log"
	check "its file is in cancelled/" test -f "$Q_SPOOL/cancelled/${id:0:4}/$id"
	run_q fsck
	is "$rc" 0 "fsck is clean"
	[ "$rc" = 0 ] || diag "$out" "$err"

	# The other order: q cancel finds the job in running/, and before its
	# event goes in, recovery (here fsck --repair) requeues the job to
	# pending/.  The cancel, done waiting, moves it where its verdict says.
	orphan started3
	(slowly cancel "$id" >cancel.out 2>cancel.err; echo $? >cancel.rc) &
	r=$!
	sleep 0.5
	run_q fsck --repair
	wait "$r"
	is "$(cat cancel.rc)" 0 "q cancel exits 0 though recovery requeued the job meanwhile"
	run_q show --json "$id"
	is "$(jpy '[j["status"], j["state"]]' <<<"$out")" '["cancelled", "cancelled"]' \
		"the job is cancelled, not left pending with a cancel in its log"
	run_q fsck
	is "$rc" 0 "fsck is clean"
	[ "$rc" = 0 ] || diag "$out" "$err"
else
	skip 8 "strace cannot trace here"
fi

done_testing
