#!/usr/bin/env bash
# Crash points: tests/faults.sh --crash kills each operation just before
# each of its spool calls in turn (Q_FAULT=any:N:KILL, N = 1, 2, ... until
# it runs to the end), on a fresh copy of a prepared spool each time.  What
# fsck finds after the crash is only what "Crash recovery" in
# spool-format.md lists, and after the next worker (q worker --once) fsck
# is clean; the job is in one place, in a state the operation allows; an
# id q add printed is there; a job that exists with --key is the one
# keys/K names; a job a worker finished has its verdict in its
# log; no job ran more often than its start events say; nothing but named
# staging is left in tmp/.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip 1 "no python3"; done_testing; exit 0; }

ops=(add add-new-spool add-key add-key-stale add-key-dup claim claim-retry cancel retry gc
	hold hold-deferred release list fsck prompt lease prompt-done prompt-fail give-back expire
	dep-fail)
# Every other call (every sixth under the sanitizers); QTEST_CRASH_STEP=1
# (make faults) takes them all.
step=2
[ "${QTEST_SANITIZE:-}" != 1 ] || step=6
step=${QTEST_CRASH_STEP:-$step}
TMPDIR=$scratch "$TEST_DIR/faults.sh" --crash --step $step --max-n 300 >crash.out 2>crash.err
status=$?
faults_report crash '^# a crash left\|^# needed the next worker' "${ops[@]}"
for op in "${ops[@]}"; do
	ok "$(grep -q "per operation:.* $op [1-9]" crash.out; echo $?)" "q $op was killed at some call"
done

done_testing
