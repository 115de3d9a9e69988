#!/usr/bin/env bash
# worker -j N runs N jobs at once; worker.max caps the number of workers.
. "$(dirname "$0")/lib.sh"

# A job that succeeds only if $2 jobs are running at the same time: each
# touches its own file, then waits (up to $3 x 0.05 s) for $2 files.
barrier='touch "$1/b.$Q_JOB_ID"; i=0
while [ "$(ls "$1" | wc -l)" -lt "$2" ]; do
	i=$((i + 1)); [ $i -ge "$3" ] && exit 1; sleep 0.05
done'

mkdir b3
for i in 1 2 3; do
	run_q add -- sh -c "$barrier" sh "$scratch/b3" 3 100
done
t0=$(now_ms)
RUN_Q_TIMEOUT=30 run_q worker --once -j 3
t1=$(now_ms)
is "$rc" 0 "worker --once -j 3 exits 0"
is "$(q status --json | jpy 'j["completed"]')" 3 "-j 3: three jobs ran at the same time"
note "-j 3 took $((t1 - t0)) ms"

mkdir b2
for i in 1 2; do
	run_q add -- sh -c "$barrier" sh "$scratch/b2" 2 100
done
Q_WORKER_JOBS=2 RUN_Q_TIMEOUT=30 run_q worker --once
is "$(q status --json | jpy 'j["completed"]')" 5 "Q_WORKER_JOBS=2: two jobs at the same time"

# -j 1 never runs two at once: starts and ends alternate.
for i in 1 2 3; do
	run_q add -- sh -c 'echo s >>"$1"; sleep 0.2; echo e >>"$1"' sh "$scratch/seq"
done
RUN_Q_TIMEOUT=30 run_q worker --once -j 1
is "$(tr -d '\n' <seq)" sesese "-j 1: the jobs ran one after the other"

# --- worker.max -----------------------------------------------------------------

export Q_WORKER_MAX=1
run_q add -- sh -c 'touch started; while [ ! -e go ]; do sleep 0.05; done'
long=$out
q_bg w1 worker --once
w1=$bg_pid
check "the first worker started the long job" wait_for 'test -e started' 10
run_q add -- touch ran-second
second=$out
run_q worker --once
is "$rc" 0 "with worker.max 1 taken, a second worker exits 0 (before the long job ends)"
check "and runs nothing" test ! -e ran-second
touch go
wait "$w1"
is "$?" 0 "the first worker exits 0"
run_q result "$long"
is "$rc" 0 "the long job completed"
run_q result "$second"
st=$rc
if [ "$st" != 0 ]; then
	run_q worker --once
	run_q result "$second"
	st=$rc
fi
is "$st" 0 "the second job runs once a slot is free"

run_q fsck
is "$rc" 0 "fsck clean"

done_testing
