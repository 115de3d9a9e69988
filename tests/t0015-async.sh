#!/usr/bin/env bash
# sync.mode async (the default) and --sync.
. "$(dirname "$0")/lib.sh"

# --- async --------------------------------------------------------------------

export Q_SYNC_MODE=async
# $(...) waits for every holder of the pipe: a detached worker that kept
# q's stdout open would hang here, since the job waits for the go.
id=$(q add -- sh -c 'while [ ! -e go ]; do sleep 0.01; done; echo done >out')
st=$?
is "$st" 0 "async add exits 0"
check "async add returns while its job still waits" test ! -e out
touch go
check "the job completes with no further command" \
	wait_for "q result $id" 10
is "$(cat out 2>/dev/null)" done "the job ran"

# Several async adds: each job runs once.
ids=
for i in 1 2 3 4 5; do
	ids="$ids $(q add -- sh -c 'echo "$Q_JOB_ID" >>ran')"
done
check "five async jobs complete" \
	wait_for "test \"\$(sort -u ran 2>/dev/null | wc -l)\" = 5" 10
sleep 0.2
is "$(wc -l <ran)" 5 "each ran once"

# --async flag with manual mode in the environment.
export Q_SYNC_MODE=manual
id=$(q add --async -- sh -c 'echo flag >out2')
check "--async overrides manual mode" wait_for "q result $id" 10

# --- sync -------------------------------------------------------------------------

run_q add --sync -- sh -c 'echo hi; exit 3'
is "$rc" 1 "add --sync of a failing job exits 1"
like "$out" hi "add --sync prints the job's output"
run_q add --sync -- sh -c 'echo fine'
is "$rc" 0 "add --sync of a succeeding job exits 0"
like "$out" fine "add --sync prints the output"

# Wait for the spool to be idle before the scratch dir goes.
wait_for "test -z \"\$(find '$Q_SPOOL/running' -type f)\"" 5
done_testing
