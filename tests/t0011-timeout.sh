#!/usr/bin/env bash
# --timeout: the attempt's process group is killed; error "timeout".
. "$(dirname "$0")/lib.sh"

run_q add --timeout 300ms -- sh -c 'sleep 30 & echo $! >gc.pid; echo $$ >sh.pid; sleep 30'
id=$out
t0=$(now_ms)
RUN_Q_TIMEOUT=20 run_q worker --once
t1=$(now_ms)
is "$rc" 0 "worker exits 0"
note "worker took $((t1 - t0)) ms"
[ $((t1 - t0)) -lt 20000 ]
ok $? "a 300 ms timeout ends the job before its 30 s sleep"
[ $((t1 - t0)) -ge 290 ]
ok $? "but not before 300 ms"
run_q result "$id"
is "$rc" 1 "timed-out job: result exits 1"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" failed "status failed"
is "$(jpy 'j["error"]' <<<"$out")" timeout "error timeout"
check "the grandchild is gone" wait_gone 2 "$(cat gc.pid)"
check "the shell is gone" wait_gone 2 "$(cat sh.pid)"

# A job that ignores SIGTERM is killed after job.kill_grace.
export Q_JOB_KILL_GRACE=300ms
run_q add --timeout 200ms -- sh -c 'trap "" TERM; sleep 30 & echo $! >gc2.pid; wait; wait'
id=$out
t0=$(now_ms)
RUN_Q_TIMEOUT=20 run_q worker --once
t1=$(now_ms)
note "worker took $((t1 - t0)) ms"
[ $((t1 - t0)) -lt 20000 ]
ok $? "a job ignoring SIGTERM is killed after the grace period, not its 30 s"
is "$(q show --json "$id" | jpy 'j["error"]')" timeout "error timeout"
check "its child (also ignoring TERM) is gone" wait_gone 2 "$(cat gc2.pid)"
unset Q_JOB_KILL_GRACE

# Timed-out attempts are not retried unless --retry-timeout.
run_q add --timeout 200ms --attempts 2 --backoff 10ms -- sh -c 'echo x >>runs-a; sleep 30'
id_a=$out
run_q add --timeout 200ms --attempts 2 --backoff 10ms --retry-timeout -- sh -c 'echo x >>runs-b; sleep 30'
id_b=$out
RUN_Q_TIMEOUT=30 run_q worker
is "$(wc -l <runs-a)" 1 "without --retry-timeout: one attempt"
is "$(wc -l <runs-b)" 2 "with --retry-timeout: two attempts"
is "$(q show --json "$id_a" | jpy '[j["status"], j["error"], j["attempts"]]')" '["failed", "timeout", 1]' \
	"without --retry-timeout: failed, timeout, attempts 1"
is "$(q show --json "$id_b" | jpy '[j["status"], j["error"], j["attempts"]]')" '["failed", "timeout", 2]' \
	"with --retry-timeout: failed, timeout, attempts 2"

# A job that finishes in time is not affected.
run_q add --timeout 5s -- true
id=$out
run_q worker --once
run_q result "$id"
is "$rc" 0 "a job within its timeout completes"

done_testing
