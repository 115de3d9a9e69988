#!/usr/bin/env bash
# kill -9 of a worker in the middle of a job: the job's process group dies
# with it, and the next worker (or fsck --repair) recovers the job.
. "$(dirname "$0")/lib.sh"

# The job records its shell's and its child's pids; the first attempt
# blocks, a later one succeeds (marker file).
job='echo $$ >>sh.pids; sleep 30 & echo $! >>child.pids
if [ -e marker ]; then kill $!; exit 0; fi
touch marker; echo started >started; wait'

# --- attempts 2: the job runs again and completes --------------------------

run_q add --attempts 2 -- sh -c "$job"
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
check "after kill -9 of the worker, the job's process group is gone within 2 s" \
	wait_gone 2 "$shpid" "$chpid"

run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" running "the job still reads as running"
run_q fsck
is "$rc" 1 "fsck exits 1: a file in running/ is not locked"
like "$out$err" "$id" "fsck names the job"

run_q worker --once
is "$rc" 0 "the next worker exits 0"
run_q result "$id"
is "$rc" 0 "the recovered job completed on its second attempt"
run_q show --json "$id"
is "$(jpy 'j["attempts"]' <<<"$out")" 2 "attempts counts the killed attempt"
is "$(jpy 'len(j["history"])' <<<"$out")" 2 "history has both attempts"
is "$(wc -l <sh.pids)" 2 "the command ran exactly twice"
run_q events "$id"
like "$out" '"event": ?"requeued"' "events: requeued"
like "$out" 'worker_died' "events: reason worker_died"
run_q fsck
is "$rc" 0 "fsck exits 0 after recovery"
[ "$rc" = 0 ] || diag "$out" "$err"

# --- attempts 1: the job fails with worker_died, via fsck --repair ---------------

rm -f marker started sh.pids child.pids
run_q add -- sh -c "$job"
id=$out
q_bg w2 worker --once
w=$bg_pid
wait_for 'test -s started' 10
ok $? "second job started"
shpid=$(head -1 sh.pids)
chpid=$(head -1 child.pids)
{ kill -KILL "$w" && wait "$w"; } 2>/dev/null
wait "$w" 2>/dev/null
check "second job's process group is gone within 2 s" wait_gone 2 "$shpid" "$chpid"

run_q fsck
is "$rc" 1 "fsck exits 1 before repair"
run_q fsck --repair
note "fsck --repair: rc=$rc"
run_q result "$id"
is "$rc" 1 "after fsck --repair, a job with no attempts left failed"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" failed "status failed"
is "$(jpy 'j["error"]' <<<"$out")" worker_died "error worker_died"
is "$(jpy 'j["attempts"]' <<<"$out")" 1 "attempts 1"
check "the job file is in failed/" test -f "$Q_SPOOL/failed/${id:0:4}/$id"
run_q fsck
is "$rc" 0 "fsck exits 0 after repair"
is "$(wc -l <sh.pids)" 1 "the command ran once"

done_testing
