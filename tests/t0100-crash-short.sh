#!/usr/bin/env bash
# The crash suite, short: 20 rounds of tests/crash.sh --chaos (SIGKILL of q
# add, q worker and of concurrent cancel/retry/hold/release/gc/fsck at
# random moments, jobs leaving detached children; then recovery, fsck and
# the no-lost-job, no-double-run, no-erased-cancel checks).  An odd seed
# runs the workers with --stay (workers that stay for new jobs and start
# others), an even one with --once.  `make crash` and `make chaos` run the
# long versions.
#
# TEST_SEED=S replays the random choices of a failed run (the seed is
# printed either way); TEST_ROUNDS=N changes the number of rounds (10
# under the sanitizers, QTEST_SANITIZE=1).
. "$(dirname "$0")/lib.sh"

seed=${TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
rounds=20
[ "${QTEST_SANITIZE:-}" != 1 ] || rounds=10
rounds=${TEST_ROUNDS:-$rounds}
stay=
[ $((seed % 2)) = 0 ] || stay=--stay
note "seed $seed (replay: TEST_SEED=$seed prove $0, or tests/crash.sh --rounds $rounds --jobs 20 --seed $seed --chaos $stay)"

TMPDIR=$scratch "$TEST_DIR/crash.sh" --rounds "$rounds" --jobs 20 --seed "$seed" --chaos $stay \
	>crash.out 2>crash.err
status=$?
summary=$(grep '^crash: [0-9]* rounds' crash.out)
ok $status "crash suite: $rounds rounds, exit 0"
[ $status = 0 ] || diag "$(cat crash.out crash.err)"
like "$summary" "^crash: $rounds rounds, [1-9][0-9]* kills, [1-9][0-9]* jobs, [0-9]+ runs, 0 lost, 0 run twice concurrently, fsck clean, [0-9]+ cancels \([0-9]+ ops\), 0 erased$" \
	"summary: nothing lost, nothing run twice, no cancel erased, fsck clean"
note "$summary"
kills=$(sed -n 's/^crash: [0-9]* rounds, \([0-9]*\) kills.*/\1/p' <<<"$summary")
ok $((${kills:-0} * 2 < rounds)) "kills in most rounds (${kills:-0} kills)"

done_testing
