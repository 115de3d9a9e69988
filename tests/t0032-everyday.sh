#!/usr/bin/env bash
# Everyday use: scheduled jobs that run with no timer, q wait, several ids,
# "@", states by name, labels and queues, job.on_finish, q watch, help and
# completion, worker names.
. "$(dirname "$0")/lib.sh"

export PATH="$TOP/bin:$PATH"

# due_ms ID: when the job is (or was) due, in ms (from show --json).
due_ms() {
	local t
	t=$(q show --json "$1" | jpy 'j["run_at"]')
	echo $(($(date -d "$t" +%s%3N)))
}

# --- scheduled work runs on its own ---------------------------------------------

export Q_SYNC_MODE=async
run_q add --in 1s -- sh -c 'date +%s%3N >ran-in'
in_id=$out
due=$(due_ms "$in_id")
at=$(($(date +%s) + 2))
run_q add --at "@$at" -- sh -c 'date +%s%3N >ran-at'
at_id=$out
check "--in, with no timer or cron: the job runs" wait_for 'test -s ran-in' 10
late=$(($(cat ran-in) - due))
[ "$late" -ge 0 ] && [ "$late" -le 1000 ]
ok $? "--in: on time, within a second of its due time ($late ms)"
check "--at, with no timer or cron: the job runs" wait_for 'test -s ran-at' 10
late=$(($(cat ran-at) - at * 1000))
[ "$late" -ge 0 ] && [ "$late" -le 1000 ]
ok $? "--at: on time, within a second ($late ms)"

# A worker waiting for a job due in an hour holds no slot: a new job runs at once.
export Q_WORKER_MAX=1
run_q add --in 1h -- touch never
later=$out
check "a worker waits for the job due in an hour" \
	wait_for 'q status --json | jpy "j[\"waiter\"]" | grep -qv false' 10
run_q status
like "$out" "next due in (59m|1h00m).*a worker is waiting for it" "q status says so"
run_q add -- touch now
now_id=$out
check "with worker.max 1, a runnable job still runs while the waiter sleeps" \
	wait_for 'test -e now' 10
run_q result --wait --timeout 10s "$now_id"
is "$rc" 0 "and completes"
run_q cancel "$later"
check "the waiter leaves once nothing is scheduled" \
	wait_for 'q status --json | jpy "j[\"waiter\"]" | grep -qx false' 10
unset Q_WORKER_MAX
export Q_SYNC_MODE=manual

# --- states by name -------------------------------------------------------------

run_q add -- true
p=$out
run_q add --in 1h -- true
d=$out
run_q add --after "$p" -- true
w=$out
run_q add --hold -- true
h=$out
for s in pending:"$p $d $w $h" deferred:"$d" waiting:"$w" held:"$h"; do
	state=${s%%:*}
	want=$(tr ' ' '\n' <<<"${s#*:}" | sort)
	run_q list --state "$state"
	is "$(cut -d' ' -f1 <<<"$out" | sort)" "$want" "list --state $state"
done
run_q list --json --state deferred
is "$(jpy '[x["state"] for x in j]' <<<"$out")" '["deferred"]' "--json has the state"
run_q list
like "$out" "$d +deferred .*\\(due in (59m|1h00m)" "list says when a deferred job is due"
like "$out" "$w +waiting .*\\(waiting on $p\\)" "and what a waiting job waits on"
run_q show "$d"
like "$out" "due +.* \\(in (59m|1h00m)" "show says 'in', not 'ago', for a time ahead"
run_q cancel "$p" "$d" "$w" "$h"
is "$rc" 0 "cancel takes several ids"

# --- q wait, several ids, @ ---------------------------------------------------------

run_q add -- true
a=$out
run_q add -- false
b=$out
run_q add -- sh -c 'echo from-@'
c=$out
run_q result @
like "$out" "^$c pending" "@ is the last job q add printed in this session"
Q_SESSION=other run_q result @
is "$rc" 4 "another session (Q_SESSION) has no last job"
Q_SESSION=other run_q add -- true
Q_SESSION=other run_q result @
like "$out" "pending" "and gets its own"
run_q add --after @ -- true
run_q show "$out" --json
is "$(jpy 'j["after"]' <<<"$out")" "[\"$c\"]" "--after @ depends on the last job added"
q_bg w worker
wait "$bg_pid"
run_q wait "$a" "$c"
is "$rc" 0 "q wait ID... exits 0 when all completed"
is "$(wc -l <<<"$out")" 2 "and prints a result line per job"
run_q wait "$a" "$b"
is "$rc" 1 "q wait exits 1 when one of them failed"
run_q result "$a" "$b" --json
is "$(jpy '[x["status"] for x in j]' <<<"$out")" '["completed", "failed"]' \
	"result --json of several ids is an array"
run_q log "$a" "$c"
is "$out" "==> $c <==
from-@" "q log of several ids: a header for each that printed something"

run_q add -- sleep 30
s=$out
run_q wait --all --timeout 300ms
is "$rc" 5 "q wait --all --timeout exits 5 while a job is pending"
run_q cancel "$s"
# The jobs run until the test says go, so that q wait sees them live.
for end in true false; do
	rm -f go
	run_q add -- sh -c "while [ ! -e go ]; do sleep 0.01; done; $end"
	gated=$out
	run_q add -- true
	q_bg w worker
	wait_for "test -e '$Q_SPOOL/running/$gated'" 10
	q_bg wa wait --all
	wp=$bg_pid
	sleep 0.2
	touch go
	wait "$wp"
	st=$?
	if [ $end = true ]; then
		is "$st" 0 "q wait --all returns 0 once every job completed"
	else
		is "$st" 1 "q wait --all returns 1 when one failed"
	fi
	wait
done
run_q wait
is "$rc" 2 "q wait with nothing to wait for is a usage error"

# --- labels and queues ----------------------------------------------------------

run_q add -l build -l nightly -- true
lb=$out
run_q add -l test -- true
lt=$out
run_q list -l build
is "$(cut -d' ' -f1 <<<"$out")" "$lb" "list -l shows the jobs with the label"
like "$out" "\\[build,nightly\\]" "and their labels"
run_q status -l test --json
is "$(jpy 'j["pending"]' <<<"$out")" 1 "status -l counts the jobs with the label"
q_bg wl wait -l build
wp=$bg_pid
q_bg w worker
wait "$wp"
is "$?" 0 "q wait -l returns once the labelled jobs are final"

conf=$(dirname "$Q_SPOOL")/q.conf
printf '[queues]\n\tpair = 2\n' >"$conf"
chmod 600 "$conf"
job='echo "$(date +%s%N) +" >>"$0"; sleep 0.2; echo "$(date +%s%N) -" >>"$0"'
for i in 1 2 3 4; do run_q add --queue solo -- sh -c "$job" "$scratch/solo.trace"; done
for i in 1 2 3 4; do run_q add --queue pair -- sh -c "$job" "$scratch/pair.trace"; done
run_q show --json "$out"
is "$(jpy '[j["queue"], j.get("queue_max")]' <<<"$out")" '["pair", 2]' "the queue's limit comes from [queues]"
run_q worker -j 8
most() { sort -n "$1" | awk '{ n += ($2 == "+") ? 1 : -1; if (n > m) m = n } END { print m }'; }
is "$(most solo.trace)" 1 "a queue without a setting runs one job at a time, 8 slots or not"
is "$(most pair.trace)" 2 "[queues] pair = 2 runs two at a time"
rm -f "$conf"

# A queued job that expires as it is claimed gives its queue slot back: the
# next job of the queue runs while an unrelated job still does.
run_q add -p 0 --queue x --deadline 1ms -- echo expired
xa=$out
run_q add -p 1 -- sh -c 'while [ ! -e qgo ]; do sleep 0.02; done'
xb=$out
run_q add -p 2 --queue x -- true
xc=$out
sleep 0.05
q_bg wq worker -j 2 --once
wait_for "[ -n \"\$(ls '$Q_SPOOL'/done/*/'$xc' 2>/dev/null)\" ]" 20
ok $? "a job of queue x runs although a job of x expired at its claim"
run_q result "$xa"
like "$out" "expired" "(that job expired)"
touch qgo
wait "$bg_pid"

# --- job.on_finish ---------------------------------------------------------------

printf '[job]\n\ton_finish = echo "$1 $2 $Q_JOB_STATUS" >>%s\n' "$scratch/calls" >"$conf"
chmod 600 "$conf"
run_q add -- true
f1=$out
run_q add -- false
f2=$out
run_q add -- true
f3=$out
run_q cancel "$f3"
run_q worker
check "a call per final job" wait_for 'test "$(wc -l <calls 2>/dev/null)" = 3' 10
like "$(cat calls)" "$f1 completed completed" "a completed job's call"
like "$(cat calls)" "$f2 failed failed" "a failed job's call"
like "$(cat calls)" "$f3 cancelled cancelled" "a cancelled job's call"
# A crash right after a job's final move leaves its call owed: the next
# worker makes it.  (The note, as the crash leaves it.)
run_q add -- true
f4=$out
Q_JOB_ON_FINISH= run_q worker
: >"$Q_SPOOL/notify/$f4"
run_q worker --once
check "a call a crash left owing is made by the next worker" \
	wait_for "grep -q '$f4 completed' calls" 10
# A worker killed in the middle of a job: recovery fails it, and it gets its call.
Q_JOB_MAX_INTERRUPTS=1 run_q add -- sh -c 'touch started; sleep 30'
f5=$out
q_bg w worker --once
check "the job started" wait_for 'test -e started' 10
{ kill -KILL "$bg_pid" && wait "$bg_pid"; } 2>/dev/null
wait_for "! flock -n '$Q_SPOOL/running/$f5' true 2>/dev/null; test \$? = 1" 5
run_q worker --once
check "after the crash and recovery, its call is made" wait_for "grep -q '$f5 failed' calls" 10
sort calls | cut -d' ' -f1 | uniq -d >dups
is "$(cat dups)" "" "each job's call was made once"
test -z "$(ls "$Q_SPOOL/notify")"
ok $? "no call is left owing"
rm -f "$conf"

# --- q watch ------------------------------------------------------------------------

"$Q" watch --events >events.txt 2>&1 </dev/null &
wp=$!
sleep 0.3
ids=()
for i in $(seq 20); do run_q add -- true; ids+=("$out"); done
run_q worker
check "q watch --events streams every event of 20 quick jobs" \
	wait_for 'test "$(grep -c "\"event\":\"completed\"" events.txt)" = 20' 10
for ev in start exit completed; do
	is "$(grep -c "\"event\":\"$ev\"" events.txt)" 20 "20 $ev events"
done
like "$(head -1 events.txt)" '^\{"id":"[0-9a-z]{14}","at":"' "each line is the event with the job's id"
# Progress lines as a job may write them: empty, spaced.
run_q add -- sh -c 'echo "{}" >>"$Q_PROGRESS"; echo " { \"pct\" : 5 }" >>"$Q_PROGRESS"'
run_q worker
check "progress lines are streamed too" \
	wait_for 'test "$(grep -c "\"event\":\"progress\"" events.txt)" = 2' 10
is "$(grep '"progress"' events.txt | python3 -c 'import sys, json; [print(json.loads(l).get("pct")) for l in sys.stdin]')" "None
5" "every line is valid JSON, the job's members after id and event"
kill "$wp" 2>/dev/null
wait "$wp" 2>/dev/null

sock="q-watch-$$"
if tmux -L "$sock" -f /dev/null new-session -d -s w -x 100 -y 30 \
	"printf 'before-watch\\n'; env Q_SPOOL='$Q_SPOOL' HOME='$HOME' '$Q' watch; echo watch-exited; sleep 30" 2>/dev/null; then
	pane() { tmux -L "$sock" capture-pane -p -t w 2>/dev/null; }
	check "q watch draws its view" wait_for 'pane | grep -q "q watch"' 5
	unlike "$(pane)" "before-watch" "in the alternate screen (the shell's lines are hidden)"
	tmux -L "$sock" send-keys -t w q
	check "q quits it" wait_for 'pane | grep -q watch-exited' 5
	like "$(pane)" "before-watch" "and the screen is as it was"
	tmux -L "$sock" kill-server 2>/dev/null
else
	skip 4 "tmux cannot start a session"
fi

# --- help, completion, names -----------------------------------------------------

run_q help add
for o in --priority --batch --label --queue --env --json; do
	like "$out" "$o" "q help add lists $o"
done
eval "$("$Q" completion bash)"
COMP_WORDS=(q re); COMP_CWORD=1; _q
is "${COMPREPLY[*]}" "result retry release resume remote" "bash completes commands"
COMP_WORDS=(q wait --t); COMP_CWORD=2; _q
is "${COMPREPLY[*]}" "--timeout" "and options"
run_q add -- true
COMP_WORDS=(q show "${out:0:10}"); COMP_CWORD=2; _q
is "${COMPREPLY[*]}" "$out" "and job ids"
for sh in zsh fish; do
	if command -v $sh >/dev/null; then
		"$Q" completion $sh >comp.$sh
		if [ $sh = zsh ]; then zsh -n comp.zsh; else fish --no-execute comp.fish; fi
		ok $? "the $sh script parses"
	else
		skip 1 "$sh is not installed"
	fi
done
run_q completion tcsh
is "$rc" 2 "an unknown shell is a usage error"

run_q add -- sh -c 'cat /proc/$PPID/comm; read -r l </proc/$PPID/stat; set -- ${l##*) }; cat /proc/$2/comm'
run_q worker --once
run_q log @
is "$out" "q-supervisor
q worker" "ps and top show the worker as 'q worker', its supervisor as 'q-supervisor'"

# q wait -l while a worker claims the job between its reads of running/ and
# pending/ (gdb stops it at its second look at pending/): it waits for the
# job, and does not end with "not finished".
if command -v gdb >/dev/null; then
	g=$(q add -l racy -- sleep 1)
	printf '"%s" worker --once >/dev/null 2>&1 &\nfor i in $(seq 250); do [ -e "%s" ] && break; sleep 0.02; done\n' \
		"$Q" "$Q_SPOOL/running/$g" >"$scratch/claim.sh"
	# LeakSanitizer cannot run under ptrace (a SANITIZE=1 build).
	ASAN_OPTIONS=detect_leaks=0 gdb -q -batch -ex 'break spool_each' -ex 'ignore 1 5' -ex run \
		-ex "shell sh '$scratch/claim.sh'" -ex delete -ex continue \
		--args "$Q" wait -l racy >"$scratch/gdb.out" 2>&1
	like "$(tail -2 "$scratch/gdb.out")" "$g completed.*exited normally" \
		"q wait -l waits for a job claimed between two of its reads"
else
	skip 1 "no gdb (contrib/install-deps installs it)"
fi

done_testing
