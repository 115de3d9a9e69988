#!/usr/bin/env bash
# The concurrency suite, short: tests/stress.sh with 2,000 jobs, 4 workers
# and 2 enqueuers (each job runs exactly once, all complete, --after chains
# run in order, priorities hold, fsck clean).  `make stress` runs 20,000.
# Under the sanitizers (QTEST_SANITIZE=1, from make check SANITIZE=1),
# 500 jobs and 5 chains.
#
# TEST_SEED=S replays the random choices (the seed is printed either way).
. "$(dirname "$0")/lib.sh"

seed=${TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
jobs=2000 chains=20
[ "${QTEST_SANITIZE:-}" != 1 ] || jobs=500 chains=5
args=(--jobs $jobs --workers 4 --enqueuers 2 --chains $chains --chain-len 5 --prio-jobs 100
	--seed "$seed" --timeout 1500)
note "seed $seed (replay: TEST_SEED=$seed prove $0, or tests/stress.sh ${args[*]})"

TMPDIR=$scratch "$TEST_DIR/stress.sh" "${args[@]}" >stress.out 2>stress.err
status=$?
ok $status "stress suite: $jobs jobs, 4 workers, 2 enqueuers: exit 0"
[ $status = 0 ] || diag "$(cat stress.out stress.err)"
summary=$(grep '^stress: [0-9]* jobs' stress.out)
like "$summary" "^stress: $jobs jobs, 4 workers, 2 enqueuers: each ran once, all completed, $chains chains in order, priorities in order, fsck clean" \
	"summary: each ran once, all completed, in order, fsck clean"
note "$summary"

done_testing
