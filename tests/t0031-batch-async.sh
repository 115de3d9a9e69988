#!/usr/bin/env bash
# Async adds start a worker only when a slot is free and no worker stays
# for new jobs, never strand a job, and never run more workers than
# worker.max; q add --batch queues many jobs with one group commit,
# durable before their ids are printed.
. "$(dirname "$0")/lib.sh"

export PATH="$TOP/bin:$PATH"

# --- many concurrent async adds -----------------------------------------------

# Each job notes its worker (its supervisor's parent) as it starts and ends.
job='read -r l </proc/$PPID/stat; set -- ${l##*) }; w=$2
echo "$(date +%s%N) $w +" >>trace; echo "$Q_JOB_ID" >>ran; sleep 0.01
echo "$(date +%s%N) $w -" >>trace'
# Workers stay for new jobs as they do outside the tests (worker.stay 1s).
unset Q_WORKER_STAY
export Q_SYNC_MODE=async Q_WORKER_MAX=2
for k in 1 2 3 4; do
	( for i in $(seq 40); do q add -- sh -c "$job" >>ids 2>>add.err; done ) &
done
wait
is "$(wc -l <ids)" 160 "160 concurrent async adds printed 160 ids"
is "$(cat add.err)" "" "with nothing on stderr"
check "every job completes without a timer or another worker" \
	wait_for 'test "$(sort -u ran 2>/dev/null | wc -l)" = 160' 60
is "$(sort ran | uniq -d | head -3)" "" "each ran once"
# The most workers running jobs at one time, from the trace.
max=$(sort -n trace | awk '{ n[$2] += ($3 == "+") ? 1 : -1; busy = 0
	for (w in n) if (n[w] > 0) busy++; if (busy > max) max = busy } END { print max + 0 }')
workers=$(awk '{ print $2 }' trace | sort -u | wc -l)
note "$workers workers ran the 160 jobs, at most $max at once"
[ "$max" -ge 1 ] && [ "$max" -le 2 ]
ok $? "never more workers running jobs than worker.max (2): $max"
# How many distinct workers ran jobs depends on the machine's load (a
# worker busy for 20 ms lets the next add start one), so this bound is
# loose; the exact rule is checked under strace below.
[ "$workers" -lt 40 ]
ok $? "far fewer workers than adds ($workers workers for 160 adds)"

# A job added while the last worker leaves is not stranded: adds racing
# worker exits, many times; first workers that leave at once, then
# workers that stay 2 ms, so that adds race stayers letting go.
for stay in 0 2ms; do
	for i in $(seq 60); do
		Q_WORKER_STAY=$stay q add -- true >/dev/null
	done
	check "racing adds and exits strand nothing (worker.stay $stay)" \
		wait_for 'q status --json | grep -q "\"pending\":0,\"running\":0,"' 30
done
# The rule itself: while a worker holds the only slot, an async add starts
# nothing (no setsid, the detached worker's first call); with the slot
# free, it starts one.
idle() { for s in "$Q_SPOOL"/slots/*; do flock -n "$s" true || return 1; done; }
# setsid_count CMD...: setsid calls (detached workers started) of one async q add -- CMD.
setsid_count() {
	ASAN_OPTIONS=detect_leaks=0 timeout 60 strace -f -qq -e trace=setsid -o add.trace \
		"$Q" add -- "$@" >>ids.stay
	grep -c setsid add.trace
}
check "the workers of the racing adds have left" wait_for idle 30
export Q_WORKER_STAY=0
if strace -f -qq -e trace=setsid -o /dev/null true 2>/dev/null; then
	Q_WORKER_MAX=1 q add -- sh -c 'touch busy; while [ ! -e go ]; do sleep 0.01; done' >/dev/null
	check "a worker runs the blocking job" wait_for 'test -e busy' 30
	is "$(Q_WORKER_MAX=1 setsid_count true)" 0 "every slot taken: an async add starts no worker"
	# A worker started by hand (a timer, a hook) finds the slot taken and
	# the job pending: the holder will run it, so it leaves at once.
	Q_WORKER_MAX=1 timeout 20 "$Q" worker 2>worker.err
	is "$?" 0 "a worker with every slot taken exits at once, not spinning till one frees"
	is "$(q status --json | jpy 'j["pending"]')" 1 "leaving the job to the slot's holder"
	touch go
	check "the busy worker runs the job added meanwhile" \
		wait_for 'q status --json | grep -q "\"pending\":0,\"running\":0,"' 30
	is "$(Q_WORKER_MAX=1 setsid_count true)" 1 "a slot free: an async add starts one worker"
	check "which runs the job" \
		wait_for 'q status --json | grep -q "\"pending\":0,\"running\":0,"' 30
else
	skip 7 "strace cannot trace here"
fi

# --- the stayer ----------------------------------------------------------------

stayer() { q status --json | jpy 'j["stayer"]'; }
# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() { [ -e "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"; }
drained() { q status --json | grep -q '"pending":0,"running":0,'; }
drained_but_one() { q status --json | grep -q '"pending":0,"running":1,'; }
# send_off: stop the worker staying now (the queue drained), for a test
# that needs a worker of other settings to stay.
send_off() {
	local p
	p=$(stayer)
	[ "$p" = false ] || kill "$p"
	wait_for 'test "$(stayer)" = false' 30
}
# worker.stay 3s: long enough for the steps below, short enough to wait out.
export Q_WORKER_MAX=4 Q_WORKER_STAY=3s
run_q add -- true
check "a worker q add started stays once the job is done" \
	wait_for 'drained && stayer | grep -qE "^[0-9]+$"' 30
pid=$(stayer)
check "q status --json names it (stayer: its pid)" kill -0 "$pid"
if strace -f -qq -e trace=setsid -o /dev/null true 2>/dev/null; then
	is "$(setsid_count true)" 0 "while a worker stays, an async add starts none"
	check "the stayer runs the job" wait_for drained 30
	is "$(stayer)" "$pid" "and stays again"
	# Busy for more than 20 ms, it lets go: the next add starts a worker,
	# and that job runs beside the long one.
	run_q add -- sh -c 'touch long; while [ ! -e go2 ]; do sleep 0.01; done'
	check "the stayer runs a long job" wait_for 'test -e long' 30
	check "and lets go after 20 ms" wait_for 'test "$(stayer)" = false' 30
	is "$(setsid_count touch beside)" 1 "then an async add starts a worker"
	check "whose job runs while the long one still does" wait_for 'test -e beside' 30
	touch go2
	check "both complete" wait_for drained 30
else
	skip 6 "strace cannot trace here"
fi
# Jobs added back to back while the stayer starts one run side by side
# (started by their add, or by the stayer letting go: one worker a job),
# up to worker.max, many times.
for round in 1 2 3; do
	rm -f a b c d go3
	for f in a b c d; do
		q add -- sh -c "touch $f; while [ ! -e go3 ]; do sleep 0.01; done" >/dev/null
	done
	check "round $round: four jobs added back to back run at once" \
		wait_for 'test -e a && test -e b && test -e c && test -e d' 30
	touch go3
	check "round $round: all complete" wait_for drained 30
done

# A backlog of short jobs (a batch, each under 20 ms): the stayer has had
# work without a break for 20 ms, lets go and starts workers for the rest,
# so they run side by side.
check "(the last stayer stopped)" send_off
Q_WORKER_STAY=30s q add -- true >/dev/null
check "a worker stays (worker.stay 30s)" wait_for 'drained && stayer | grep -qE "^[0-9]+$"' 30
printf '%s\n' "$job" >short.sh
: >trace
seq 40 | sed 's/.*/["sh","short.sh"]/' | q add --batch >/dev/null
check "40 short jobs complete" wait_for 'test "$(grep -c " -$" trace)" = 40 && drained' 60
max=$(sort -n trace | awk '{ n[$2] += ($3 == "+") ? 1 : -1; busy = 0
	for (w in n) if (n[w] > 0) busy++; if (busy > max) max = busy } END { print max + 0 }')
[ "$max" -ge 2 ] && [ "$max" -le 4 ]
ok $? "side by side, up to worker.max (4): at most $max at once"

# A job that queues a job: the worker its add starts does not stay (the
# job's supervisor kills what the job leaves), so later jobs are not
# handed to a worker about to be killed.
check "(the last stayer stopped)" send_off
q add -- sh -c 'q add -- true >/dev/null; sleep 0.5' >/dev/null
check "the job and the job it queued ran" wait_for 'q status --json | grep -q "\"completed\":[1-9]"' 30
sleep 0.1
q add -- sleep 1 >/dev/null
check "a job added after it is not lost with the worker the job started" \
	wait_for 'drained && test -z "$(q list --state running)"' 30

# A job scheduled while a worker stays runs on time: the stayer watches
# deferred/ too (worker.stay 30s: were it not woken, the job would wait).
check "(the last stayer stopped)" send_off
Q_WORKER_STAY=30s q add -- true >/dev/null
check "a worker stays (worker.stay 30s)" wait_for 'drained && stayer | grep -qE "^[0-9]+$"' 30
t0=$(now_ms)
q add --in 300ms -- touch due >/dev/null
check "a job due in 300 ms runs although no worker was started for it" wait_for 'test -e due' 10
late=$(($(now_ms) - t0))
[ "$late" -lt 10000 ]
ok $? "within seconds, not after the stay ($late ms)"

# A job with a queue whose slot another process holds (q add --sync): the
# stayer passes it over and leaves, and the holder, done, starts a worker.
check "(the last stayer stopped)" send_off
(Q_WORKER_STAY=30s q add --sync --queue x -- sh -c 'touch held; while [ ! -e go4 ]; do sleep 0.01; done' >/dev/null) &
sync_pid=$!
check "q add --sync holds queue x" wait_for 'test -e held' 30
Q_WORKER_STAY=30s q add -- true >/dev/null
check "a worker stays (worker.stay 30s)" wait_for 'drained_but_one && stayer | grep -qE "^[0-9]+$"' 30
run_q add --queue x -- touch queued
check "the stayer passes over the job queue x holds back, and leaves long before 30 s" \
	wait_for 'test "$(stayer)" = false' 10
touch go4
wait "$sync_pid"
check "once the holder is done, the job runs" wait_for 'test -e queued && drained' 30

# A stayer that runs jobs otherwise (another binary, other helpers, a
# remote) does not stand in for q add: here its helpers are elsewhere.
check "(the last stayer stopped)" send_off
if strace -f -qq -e trace=setsid -o /dev/null true 2>/dev/null; then
	Q_EXEC_PATH=/nonexistent Q_WORKER_STAY=30s q add -- true >/dev/null
	check "a worker with other helpers stays" wait_for 'drained && stayer | grep -qE "^[0-9]+$"' 30
	is "$(setsid_count true)" 1 "q add starts its own worker"
	check "which runs the job" wait_for drained 30
	check "(the stayer stopped)" send_off
else
	skip 4 "strace cannot trace here"
fi

# A worker the stayer starts is not taken for what a killed job left:
# kill -9 the supervisor of the stayer's job, and the other worker's job
# goes on (the stayer, a subreaper, adopted that worker).
check "(the last stayer stopped)" send_off
Q_WORKER_STAY=30s q add -- true >/dev/null
check "a worker stays" wait_for 'drained && stayer | grep -qE "^[0-9]+$"' 30
s=$(stayer)
rm -f go5
q add -- sh -c 'touch one; while [ ! -e go5 ]; do sleep 0.01; done' >/dev/null
q add -- sh -c 'touch two; while [ ! -e go5 ]; do sleep 0.01; done' >/dev/null
check "both jobs run" wait_for 'test -e one && test -e two' 30
# The stayer's children: its job's supervisor, and maybe the worker it started.
peer=$(pgrep -P "$s" -x "q worker" | head -1)
sup=$(pgrep -P "$s" | grep -vx "${peer:-none}" | head -1)
if [ -n "$peer" ] && [ -n "$sup" ]; then
	kill -9 "$sup"
	sleep 0.5
	check "the worker the stayer started survives" alive "$peer"
else
	skip 1 "the second job got a worker from its add, not from the stayer"
fi
touch go5
check "and every job ends" wait_for 'q status --json | grep -q "\"running\":0,"' 30
check "(the last stayer stopped)" send_off
run_q worker --stay --once
is "$rc" 2 "q worker --stay --once is a usage error"
# worker.stay bounds the stay: 3 s after its last job the stayer leaves.
run_q add -- true
check "the stayer runs one more job" wait_for 'drained && stayer | grep -qE "^[0-9]+$"' 30
pid=$(stayer)
check "and leaves once worker.stay has passed without a job" \
	wait_for '! alive "$pid"' 30
is "$(stayer)" false "q status --json: no stayer"
check "every slot is free" idle

unset Q_SYNC_MODE Q_WORKER_MAX
export Q_SYNC_MODE=manual Q_WORKER_STAY=0

# --- q add --batch -------------------------------------------------------------

printf '["echo","one"]\n\n["echo","two words"]\n["sh","-c","echo three"]\n' >in.txt
RUN_Q_STDIN=in.txt run_q add --batch -p high --attempts 2
is "$rc" 0 "--batch exits 0"
mapfile -t b <<<"$out"
is "${#b[@]}" 3 "three ids, blank lines skipped"
for k in 0 1 2; do
	f=$(job_file "${b[$k]}")
	check "job ${b[$k]} exists" test -f "$f"
done
is "$(q show --json "${b[0]}" | jpy '[j["argv"], j["priority"], j["max_attempts"]]')" \
	'[["echo", "one"], 2, 2]' "the first id is the first line's, with the options"
is "$(q show --json "${b[1]}" | jpy 'j["argv"]')" '["echo", "two words"]' "the second, the second"
is "$(q show --json "${b[2]}" | jpy 'j["argv"]')" '["sh", "-c", "echo three"]' "the third, the third"

before=$(find "$Q_SPOOL/pending" -type f | wc -l)
printf '["echo","ok"]\n["a",1]\n' >bad.txt
RUN_Q_STDIN=bad.txt run_q add --batch
is "$rc" 2 "a malformed line is a usage error"
is "$err" "q: standard input, line 2: not a non-empty JSON array of strings; nothing was queued" \
	"naming the line"
is "$(find "$Q_SPOOL/pending" -type f | wc -l)" "$before" "and nothing was queued"
printf '["x"' >bad.txt
RUN_Q_STDIN=bad.txt run_q add --batch
like "$err" "line 1: " "a truncated line is named too"
run_q add --batch -- echo hi </dev/null
is "$rc" 2 "--batch with a command is a usage error"
run_q add --batch --key k </dev/null
is "$rc" 2 "--batch with --key is a usage error"
run_q add --batch </dev/null
is "$rc" 2 "an empty batch is a usage error"

# 2,500 jobs: several group commits, all ids distinct and in order.
seq 2500 | sed 's/.*/["echo","&"]/' >big.txt
RUN_Q_STDIN=big.txt run_q add --batch
is "$(wc -l <<<"$out")" 2500 "2,500 ids"
is "$(sort -u <<<"$out" | wc -l)" 2500 "all distinct"
last=$(tail -1 <<<"$out")
is "$(q show --json "$last" | jpy 'j["argv"][1]')" 2500 "the last id is the last line's"
run_q fsck
is "$rc" 0 "fsck is clean after a batch"

# SIGKILL during a big batch: every id printed exists.
for round in 1 2 3; do
	seq 4000 | sed 's/.*/["true"]/' >kill.txt
	"$Q" add --batch <kill.txt >printed.txt 2>/dev/null &
	p=$!
	sleep 0.0$((RANDOM % 9 + 1))
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	missing=0
	while read -r id; do
		[ -n "$(job_file "$id")" ] || missing=$((missing + 1))
	done <printed.txt
	is "$missing" 0 "round $round: killed after $(wc -l <printed.txt) ids printed, none is missing"
done
run_q fsck
is "$rc" 0 "fsck is clean after killed batches"
[ "$rc" = 0 ] || diag "$out"

done_testing
