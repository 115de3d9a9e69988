#!/usr/bin/env bash
# The I/O fault suite: tests/faults.sh, whole (every operation, every OP of
# Q_FAULT, N = 1, 2, ... until the fault no longer shows), with ENOSPC; the
# full run (`make faults`) does EIO and the look under strace too.  One test per operation: a
# failed operation says so (exit 3, one line "q: ..."), leaves fsck clean
# (after the documented recovery), the job wholly present or wholly absent,
# nothing in tmp/.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip 1 "no python3"; done_testing; exit 0; }

ops=(add add-new-spool add-key add-key-stale add-key-dup claim claim-retry cancel retry gc
	hold hold-deferred release list fsck prompt lease prompt-done prompt-fail give-back)
# Without the second look under strace at silent successes (make faults
# takes it); under the sanitizers (QTEST_SANITIZE=1) every fifth call.
opts=--no-strace
[ "${QTEST_SANITIZE:-}" != 1 ] || opts="--step 5 --no-strace"
TMPDIR=$scratch "$TEST_DIR/faults.sh" --errnos "${TEST_ERRNOS:-ENOSPC}" $opts \
	>faults.out 2>faults.err
status=$?
faults_report faults '^# needed fsck --repair\|^# swallowed' "${ops[@]}"

done_testing
