#!/usr/bin/env bash
# Two workers on 500 jobs: every job runs exactly once.
. "$(dirname "$0")/lib.sh"

N=500
export Q_WORKER_MAX=4

t0=$(now_ms)
: >ids
fails=0
for ((i = 0; i < N; i++)); do
	# Each job records its id, its parent and its grandparent (the worker,
	# directly or through a supervisor).
	q add -- sh -c 'f=$1; read -r l </proc/$PPID/stat; set -- $l
		echo "$Q_JOB_ID $PPID $4" >>"$f"' sh "$scratch/ran.ppid" >>ids || fails=$((fails + 1))
done
t1=$(now_ms)
note "$N adds took $((t1 - t0)) ms"
is "$fails" 0 "$N adds succeeded"
is "$(sort -u ids | wc -l)" "$N" "$N distinct ids"
is "$(find "$Q_SPOOL/pending" -type f | wc -l)" "$N" "$N files in pending/"

q_bg w1 worker --once
p1=$bg_pid
q_bg w2 worker --once
p2=$bg_pid
wait "$p1"
s1=$?
wait "$p2"
s2=$?
t2=$(now_ms)
note "two workers took $((t2 - t1)) ms"
cut -d' ' -f1 ran.ppid >ran
is "$s1" 0 "worker 1 exits 0"
is "$s2" 0 "worker 2 exits 0"
[ "$s1$s2" = 00 ] || diag "$(cat w1.err w2.err)"

is "$(wc -l <ran)" "$N" "$N runs recorded"
is "$(sort ran | uniq -d | head -5)" "" "no job ran twice"
is "$(sort -u ran)" "$(sort -u ids)" "every job ran"
is "$(find "$Q_SPOOL/pending" "$Q_SPOOL/running" -type f | wc -l)" 0 "pending/ and running/ are empty"
is "$(find "$Q_SPOOL/done" -type f | wc -l)" "$N" "$N files in done/"

run_q status --json
is "$(jpy '[j["pending"], j["running"], j["completed"], j["failed"]]' <<<"$out")" "[0, 0, $N, 0]" \
	"status: $N completed, nothing else"

# Each job has exactly one start event and attempts 1.
run_q list --json --state completed
is "$(jpy 'len(j)' <<<"$out")" "$N" "list --state completed shows $N jobs"
is "$(jpy 'sorted(set(x["attempts"] for x in j))' <<<"$out")" "[1]" "every job has attempts 1"

# Both workers took part.
n1=$(awk -v p="$p1" '$2 == p || $3 == p' ran.ppid | wc -l)
n2=$(awk -v p="$p2" '$2 == p || $3 == p' ran.ppid | wc -l)
note "worker 1 ran $n1 jobs, worker 2 ran $n2"
is "$((n1 + n2))" "$N" "every job was run by one of the two workers"
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]
ok $? "both workers ran jobs"

run_q fsck
is "$rc" 0 "fsck is clean"

# Three workers running three jobs each at once.
: >ran2
for ((i = 0; i < 100; i++)); do
	q add -- sh -c 'echo "$Q_JOB_ID" >>"$1"' sh "$scratch/ran2" >>ids2
done
for w in 1 2 3; do
	q_bg "j$w" worker --once -j 3
	eval "pj$w=\$bg_pid"
done
wait "$pj1" "$pj2" "$pj3"
is "$(wc -l <ran2)" 100 "three workers with -j 3: 100 runs"
is "$(sort ran2 | uniq -d | head -5)" "" "three workers with -j 3: no job ran twice"
is "$(sort -u ran2)" "$(sort -u ids2)" "three workers with -j 3: every job ran"

done_testing
