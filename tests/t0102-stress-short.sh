#!/usr/bin/env bash
# The concurrency suite, short: tests/stress.sh with 2,000 jobs, 4 workers
# and 2 enqueuers (each job runs exactly once, all complete, --after chains
# run in order, priorities hold, fsck clean).  `make stress` runs 20,000.
#
# TEST_SEED=S replays the random choices (the seed is printed either way).
. "$(dirname "$0")/lib.sh"

seed=${TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
args=(--jobs 2000 --workers 4 --enqueuers 2 --chains 20 --chain-len 5 --prio-jobs 100
	--seed "$seed" --timeout 1500)
note "seed $seed (replay: TEST_SEED=$seed prove $0, or tests/stress.sh ${args[*]})"

TMPDIR=$scratch "$TEST_DIR/stress.sh" "${args[@]}" >stress.out 2>stress.err
status=$?
ok $status "stress suite: 2000 jobs, 4 workers, 2 enqueuers: exit 0"
[ $status = 0 ] || diag "$(cat stress.out stress.err)"
summary=$(grep '^stress: [0-9]* jobs' stress.out)
like "$summary" "^stress: 2000 jobs, 4 workers, 2 enqueuers: each ran once, all completed, 20 chains in order, priorities in order, fsck clean" \
	"summary: each ran once, all completed, in order, fsck clean"
note "$summary"

done_testing
