#!/usr/bin/env bash
# q cancel of pending and running jobs.
. "$(dirname "$0")/lib.sh"

# --- pending --------------------------------------------------------------------

run_q add -- touch ran-pending
id=$out
run_q cancel "$id"
is "$rc" 0 "cancel of a pending job exits 0"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" cancelled "status cancelled"
check "the file is in cancelled/B/ID" test -f "$Q_SPOOL/cancelled/${id:0:4}/$id"
run_q worker --once
check "a cancelled job never runs" test ! -e ran-pending
run_q result "$id"
is "$rc" 1 "result of a cancelled job exits 1"
like "$out" "^$id cancelled" "result says cancelled"
run_q cancel "$id"
is "$rc" 1 "cancel of a job already final exits 1"
run_q cancel zzzzzzzzzzzzzz
is "$rc" 4 "cancel of an unknown job exits 4"

# --- running ----------------------------------------------------------------------

# cancel_running DESC SCRIPT: runs SCRIPT (which writes pid and child) under
# a background worker, cancels it, checks the outcome.
cancel_running() {
	local desc=$1 script=$2 id w st
	rm -f pid child
	run_q add -- sh -c "$script"
	id=$out
	q_bg w worker --once
	w=$bg_pid
	wait_for 'test -s pid && test -s child' 10
	ok $? "$desc: the job started"
	run_q cancel "$id"
	is "$rc" 0 "$desc: cancel of a running job exits 0"
	check "$desc: the job's shell is gone" wait_gone 3 "$(cat pid)"
	check "$desc: the job's child is gone" wait_gone 3 "$(cat child)"
	wait_for "! kill -0 $w" 10
	wait "$w"
	st=$?
	is "$st" 0 "$desc: the worker exits 0"
	run_q show --json "$id"
	is "$(jpy 'j["status"]' <<<"$out")" cancelled "$desc: status cancelled"
	check "$desc: file in cancelled/" test -f "$Q_SPOOL/cancelled/${id:0:4}/$id"
	run_q result "$id"
	is "$rc" 1 "$desc: result exits 1"
	last_id=$id
}

cancel_running "plain job" 'echo $$ >pid; sleep 30 & echo $! >child; wait'
cancel_running "job trapping TERM and exiting 0" \
	'trap "exit 0" TERM; echo $$ >pid; sleep 30 & echo $! >child; wait'

# --- retry of a cancelled job ----------------------------------------------------

run_q retry "$last_id"
is "$rc" 0 "retry of a cancelled job exits 0"
run_q show --json "$last_id"
is "$(jpy 'j["status"]' <<<"$out")" pending "retried cancelled job is pending"
is "$(jpy 'j["attempts"]' <<<"$out")" 0 "retried cancelled job: attempts 0"

run_q fsck
is "$rc" 0 "fsck clean"

done_testing
