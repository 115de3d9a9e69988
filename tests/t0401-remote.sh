#!/usr/bin/env bash
# q remote: forwarding to PostgreSQL, running, verdicts back, cancel,
# retries, dependencies, keys across hosts, settings and errors.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

# --- without a remote, and a bad one -------------------------------------------
run_q remote status
is "$rc" 3 "q remote without remote.url fails"
like "$err" "no remote: set remote.url" "and says how to set one"
Q_REMOTE_URL='postgresql://q:hunter2@127.0.0.1:1/q' run_q remote status
is "$rc" 3 "a URL with a password is refused"
like "$err" "must not carry a password" "and says why"
unlike "$err" "hunter2" "without echoing the password"
Q_REMOTE_URL='host=127.0.0.1 user=q password =hunter2' run_q remote status
is "$rc" 3 "a key=value string with a password is refused"
Q_REMOTE_URL='postgresql://q@127.0.0.1/q?pass%77ord=hunter2' run_q remote status
like "$err" "must not carry a password" "so is an escaped password parameter"
run_q remote frobnicate
is "$rc" 2 "an unknown subcommand is a usage error"

pg_start
export Q_REMOTE_URL
run_q remote status
is "$rc" 3 "status before init fails"
like "$err" "q remote init" "and says to run q remote init"
run_q remote init
is "$rc" 0 "q remote init"
like "$out" "schema at version 1" "applies the schema"
run_q remote init
is "$rc:$out:$err" "0:remote: schema is at version 1; nothing to do:" "a second init changes nothing"
is "$(pg_psql -c 'select version from q.meta')" 1 "the schema version is recorded"

# --- forward, run, bring back --------------------------------------------------
printf 'line one\nline two\n' >"$scratch/in.txt"
a=$(q add -- sh -c 'cat in.txt; echo to-stderr >&2; echo "{\"n\": 42}" >"$Q_RESULT"')
b=$(q add -- sh -c 'exit 3')
is "$(q list --json | jpy 'len(j)')" 2 "two jobs queued"
run_q remote sync
is "$rc" 0 "q remote sync"
like "$out" "2 forwarded" "forwards both"
ok "$([ -e "$Q_SPOOL/forwarded/$a" ]; echo $?)" "the job is in forwarded/ here"
is "$(pg_psql -c "select state from q.job where id = '$a'")" pending "and pending in the remote"
run_q show "$a"
like "$out" "pending \(on the remote\)" "q show of a forwarded job shows the remote's state"
run_q remote worker
is "$rc" 0 "q remote worker runs and exits"
is "$(q show --json "$a" | jpy 'j["state"]')" completed "the verdict is back: completed"
is "$(q show --json "$b" | jpy 'j["state"]')" failed "the failing one failed"
is "$(q show --json "$b" | jpy 'j["exit_code"]')" 3 "with its exit code"
is "$(q log "$a")" $'line one\nline two\nto-stderr' "its output is back (stdout and stderr)"
is "$(q show --json "$a" | jpy 'j["result"]')" '{"n": 42}' "its result is back"
like "$(cat "$Q_SPOOL"/logs/*/"$a".events)" '"host"' "its events name the host that ran it"
run_q fsck
is "$rc" 0 "the spool is consistent"
run_q remote fsck
is "$rc" 0 "the remote is consistent"
is "$(pg_psql -c 'select count(*) from q.job where not mirrored')" 0 "every verdict is marked brought back"

# --- q worker with a remote forwards; local workers leave commands alone ---------
c=$(q add -- echo via-q-worker)
run_q worker --local
is "$(q show --json "$c" | jpy 'j["state"]')" pending "q worker --local leaves a command to the remote"
unlike "$(cat "$Q_SPOOL/spool.log" 2>/dev/null)" "leaving job $c" "quietly (nothing in spool.log)"
run_q worker
is "$rc" 0 "q worker (with a remote) runs q remote worker"
is "$(q show --json "$c" | jpy 'j["state"]')" completed "which forwards and runs it"
d=$(q add --sync -- echo here | head -1)
is "$(q show --json "$d" | jpy 'j["state"]')" completed "q add --sync runs here"
unlike "$(cat "$Q_SPOOL"/logs/*/"$d".events)" forwarded "without the remote"

# --- async adds start workers that forward -------------------------------------
ids=()
for i in 1 2 3 4 5 6; do ids+=("$(Q_SYNC_MODE=async q add -- echo "async $i")"); done
all_done() {
	for id in "${ids[@]}"; do
		[ "$(q show --json "$id" | jpy 'j["state"]')" = completed ] || return 1
	done
}
wait_for all_done 30
ok $? "6 async adds ran through the remote with no worker started by hand"

# --- the systemd unit of a host's remote worker ----------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$TOP/contrib/systemd/q-remote-worker.service")
like "$exec_start" "remote worker --watch" "the unit runs q remote worker --watch"
mkdir -p "$scratch/src" "$scratch/.local/bin"
ln -sfn "$scratch" "$scratch/src/REPO"
ln -sf "$Q" "$scratch/.local/bin/q"
su=$(q add -- echo from-the-unit)
cmd=${exec_start//%h/$scratch}
(cd / && Q_WORKER_IDLE=1s timeout 30 $cmd)
is "$?" 0 "the unit's command exits 0 once idle"
is "$(q log "$su")" from-the-unit "and ran the job"

# --- cancel -------------------------------------------------------------------
e=$(q add -- echo never)
q remote sync >/dev/null
run_q cancel "$e"
is "$rc" 0 "q cancel of a forwarded, pending job"
is "$(q show --json "$e" | jpy 'j["state"]')" cancelled "is cancelled, and the verdict is back at once"
run_q cancel "$e"
is "$rc" 1 "cancelling it again is refused"

f=$(q add -- sh -c 'echo $$ >"$HOME/f.pid"; exec sleep 60')
q_bg w1 remote worker
wait_for '[ -s "$HOME/f.pid" ]' 10
ok $? "a long job runs on a remote worker"
run_q remote show "$f"
like "$out" "running \(on the remote\)" "q remote show: running"
like "$out" "worker +[^ ]+/$bg_pid/" "and names its worker"
run_q show --json "$f"
is "$(echo "$out" | jpy 'j["state"]')" running "q show --json of a forwarded job gives the remote's state"
run_q cancel "$f"
is "$rc" 0 "q cancel of a job running on another worker"
wait "$bg_pid"
is "$?" 0 "its worker exits"
ok "$(! kill -0 "$(cat "$HOME/f.pid")" 2>/dev/null; echo $?)" "the job's process is gone"
is "$(q show --json "$f" | jpy 'j["state"]')" cancelled "the job is cancelled here"

# --- retries, tempfail, timeout --------------------------------------------------
g=$(q add --attempts 2 --backoff 200ms -- sh -c 'n=$(cat "$HOME/g.n" 2>/dev/null || echo 0); echo $((n+1)) >"$HOME/g.n"; [ $n -ge 1 ]')
h=$(q add --backoff 100ms -- sh -c '[ -e "$HOME/h.1" ] && exit 0; touch "$HOME/h.1"; exit 75')
t=$(q add --timeout 300ms -- sleep 10)
run_q remote worker
is "$rc" 0 "a worker lingers for retries that come due"
is "$(q show --json "$g" | jpy 'j["state"]+" "+str(j["attempts"])')" "completed 2" \
	"a failed attempt is retried after its backoff"
is "$(q show --json "$h" | jpy 'j["state"]+" "+str(j["attempts"])')" "completed 1" \
	"exit 75 is tried again without spending an attempt"
is "$(q show --json "$t" | jpy 'j["state"]+" "+j["error"]')" "failed timeout" "the time limit holds"

# --- priorities, deadlines, schedules -------------------------------------------
for p in low normal high; do q add -p "$p" -- sh -c "echo $p >>\"\$HOME/prio\"" >/dev/null; done
q remote sync >/dev/null
run_q remote worker -j 1
is "$(cat "$HOME/prio")" $'high\nnormal\nlow' "the remote runs higher priorities first"
dl=$(q add --deadline 1s -- echo too-late)
q remote sync >/dev/null
sleep 1.2
run_q remote worker
is "$(q show --json "$dl" | jpy 'j["state"]')" expired "a forwarded job past its deadline expires"
sc=$(q add --in 1s -- echo scheduled)
run_q remote worker
is "$(q show --json "$sc" | jpy 'j["state"]')" completed \
	"a scheduled job is forwarded when due, by a worker that waits for it"

# --- dependencies -------------------------------------------------------------
p1=$(q add -- sh -c 'sleep 0.3; echo p1 >>"$HOME/order"')
p2=$(q add --after "$p1" -- sh -c 'echo p2 >>"$HOME/order"')
x1=$(q add -- false)
x2=$(q add --after "$x1" -- echo never)
x3=$(q add --after "$x2" -- echo never)
run_q remote worker -j 4
is "$(cat "$HOME/order")" $'p1\np2' "a dependent job runs after its dependency, on 4 slots"
is "$(q show --json "$x2" | jpy 'j["state"]+" "+j["error"]')" "failed dependency_failed" \
	"a failed dependency fails the dependent"
is "$(q show --json "$x3" | jpy 'j["state"]+" "+j["error"]')" "failed dependency_failed" \
	"and its dependents in turn"

# --- keys across two hosts -----------------------------------------------------
other=$scratch/other/spool
mkdir -p "$scratch/other"
k1=$(q add --key deploy -- sleep 0.2)
q remote sync >/dev/null
k2=$(Q_SPOOL=$other q add --key deploy -- echo second)
Q_SPOOL=$other run_q remote sync
is "$(Q_SPOOL=$other q show --json "$k2" | jpy 'j["state"]')" cancelled \
	"another host's job with a live key is cancelled as a duplicate"
like "$(cat "$other"/logs/*/"$k2".events)" "\"duplicate_of\":\"[0-9a-f]{32}/$k1\"" \
	"naming the holder"
run_q remote worker
k3=$(Q_SPOOL=$other q add --key deploy -- echo third)
Q_SPOOL=$other run_q remote worker
is "$(Q_SPOOL=$other q show --json "$k3" | jpy 'j["state"]')" completed \
	"the key is free again once its job is final"
isnt "$(cat "$other/remote.origin")" "$(cat "$Q_SPOOL/remote.origin")" "each spool has its own origin"

# The crash sweeps below take every other call (every sixth under the
# sanitizers); QTEST_CRASH_STEP=1 (make faults) takes them all.
step=2
[ "${QTEST_SANITIZE:-}" != 1 ] || step=6
step=${QTEST_CRASH_STEP:-$step}

# A duplicate's forward killed at each of its spool calls in turn (Q_FAULT
# KILL: a crash just before the N-th call), then synced again: it ends
# cancelled as a duplicate, naming the holder, whatever call the crash hit.
holder=$(q add --key crash -- sleep 0.2)
q remote sync >/dev/null
n=0 killed=0 wrong=
while :; do
	n=$((n ? n + step : 1))
	d=$(Q_SPOOL=$other q add --key crash -- echo dup) || bail_out "q add --key failed"
	Q_SPOOL=$other crash_at $n remote sync
	crashed=$?
	Q_SPOOL=$other run_q remote sync
	got=$(Q_SPOOL=$other q show --json "$d" | jpy 'j["state"]+" "+str(j.get("error"))')
	Q_SPOOL=$other run_q fsck
	[ "$got:$rc:$out" = "cancelled duplicate:0:" ] || wrong+="call $n: $got, fsck $rc $out; "
	grep -q "/$holder\"" "$other"/logs/*/"$d".events || wrong+="call $n: no holder named; "
	[ $crashed = 0 ] || break
	killed=$((killed + 1))
	[ $n -lt 300 ] || bail_out "q remote sync still crashing at call $n"
done
is "$wrong" "" "a duplicate's forward crashed at any call ends cancelled as a duplicate"
ok $((killed * step < 10)) "the crash hit $killed spool calls (at least 10 / $step)"
run_q remote worker

# The same for a forward and for bringing a verdict back (the job run by the
# other host): crashed at call N, then synced again, the job is in the
# remote once and comes back completed with its output.
n=0 fkilled=0 bkilled=0 fdone= bdone= wrong=
while :; do
	n=$((n ? n + step : 1))
	j=$(q add -- echo "out $n")
	if crash_at $n remote sync; then fkilled=$((fkilled + 1)); else fdone=1; fi
	run_q remote sync
	[ -e "$Q_SPOOL/forwarded/$j" ] || wrong+="forward crashed at call $n: not in forwarded/; "
	rows=$(pg_psql -c "select count(*) from q.job where id = '$j'")
	[ "$rows" = 1 ] || wrong+="forward crashed at call $n: $rows rows; "
	Q_SPOOL=$other run_q remote worker
	if crash_at $n remote sync; then bkilled=$((bkilled + 1)); else bdone=1; fi
	run_q remote sync
	got=$(q show --json "$j" | jpy 'j["state"]'):$(q log "$j")
	[ "$got" = "completed:out $n" ] || wrong+="back crashed at call $n: $got; "
	run_q fsck
	[ "$rc:$out" = "0:" ] || wrong+="call $n: fsck $rc $out; "
	[ "$fdone$bdone" != 11 ] || break
	[ $n -lt 300 ] || bail_out "q remote sync still crashing at call $n"
done
is "$wrong" "" "a forward, and a verdict brought back, crashed at any call end as they should"
ok $((fkilled * step < 10 || bkilled * step < 10)) \
	"the crash hit $fkilled calls of forwards, $bkilled of bringing back (at least 10 / $step each)"
run_q remote fsck
is "$rc:$out" "0:" "and the remote is consistent"

# The remote worker killed at each of its calls in turn while it claims, runs
# and finishes a job: the next worker finishes it, never runs it without a
# start event, and brings it back completed with its output.
n=0 killed=0 wrong=
while :; do
	n=$((n ? n + step : 1))
	j=$(q add -- sh -c "echo run >>'$scratch/runs-$n'; echo out $n")
	run_q remote sync
	crash_at $n remote worker
	crashed=$?
	run_q remote worker
	got=$(q show --json "$j" | jpy 'j["state"]'):$(q log "$j" | tail -1)
	[ "$got" = "completed:out $n" ] || wrong+="call $n: $got; "
	runs=$(wc -l <"$scratch/runs-$n")
	starts=$(grep -cE '"event": ?"start"' "$Q_SPOOL"/logs/*/"$j".events)
	[ "$runs" -le "$starts" ] || wrong+="call $n: $runs runs, $starts starts; "
	[ $crashed = 0 ] || break
	killed=$((killed + 1))
	[ $n -lt 300 ] || bail_out "q remote worker still crashing at call $n"
done
is "$wrong" "" "a remote worker killed at any call: the job completes, never run without its start"
ok $((killed * step < 10)) "the crash hit $killed spool calls (at least 10 / $step)"
run_q fsck
is "$rc:$out" "0:" "the spool is consistent"
run_q remote fsck
is "$rc:$out" "0:" "and the remote"

# A retried job (its earlier run's row final and brought back): a sync
# killed once it is in forwarded/ but not yet sent; then a sync sends it.
r=$(q add -- sh -c 'echo run >>"$HOME/retried"; exit 1')
run_q remote sync
run_q remote worker
q retry "$r" >/dev/null
remote_state() { pg_psql -c "select state from q.job where id = '$1'"; }
crash_find "$Q_SPOOL" '[ -e "$Q_SPOOL/forwarded/$r" ] && [ "$(remote_state "$r")" = failed ]' \
	remote sync
ok "$([ -n "$found" ]; echo $?)" "a retried job's forward can be cut short after its move (call $found)"
run_q remote sync
run_q remote worker
is "$(q show --json "$r" | jpy 'j["state"]'):$(wc -l <"$HOME/retried")" failed:2 \
	"the next sync sends it, and it runs again"

# A retried job found a duplicate, its cancel cut short after its verdict
# (its earlier run's row is final and brought back): the next sync moves it.
ra=$(Q_SPOOL=$other q add --key again -- sh -c 'exit 1')
Q_SPOOL=$other run_q remote sync
Q_SPOOL=$other run_q remote worker
holder=$(q add --key again -- sleep 100)
q remote sync >/dev/null
Q_SPOOL=$other q retry "$ra" >/dev/null
crash_find "$other" '[ -e "$other/forwarded/$ra" ] &&
	grep -q "\"duplicate\"" "$other"/logs/*/"$ra".events' remote sync
ok "$([ -n "$found" ]; echo $?)" "a retried duplicate's cancel can be cut short after its verdict (call $found)"
Q_SPOOL=$other run_q remote sync
is "$(Q_SPOOL=$other q show --json "$ra" | jpy 'j["state"]+" "+str(j.get("error"))')" \
	"cancelled duplicate" "the next sync moves it where its log says"
like "$(cat "$other/spool.log")" "job $ra: its verdict was in its log: moved to cancelled/" \
	"and spool.log says so"
Q_SPOOL=$other run_q fsck
is "$rc:$out" "0:" "the spool is consistent"
q cancel "$holder" >/dev/null

# A pending job whose log has a verdict (a retry killed between its move and
# its event) is not forwarded: it goes where its log says, as at a claim.
v=$(q add --sync -- sh -c 'exit 1' 2>/dev/null | head -1)
crash_find "$Q_SPOOL" 'run_q fsck; [[ $out == *"event log says failed"* ]]' retry "$v"
ok "$([ -n "$found" ]; echo $?)" "a retry can be cut short between its move and its event (call $found)"
run_q remote sync
is "$(q show --json "$v" | jpy 'j["state"]'):$(pg_psql -c "select count(*) from q.job where id = '$v'")" \
	failed:0 "a forward takes it back to failed/, unsent"

# --- the working directory on another host --------------------------------------
mkdir -p "$scratch/sub" "$scratch/other/sub"
m=$(cd "$scratch/sub" && q add -- pwd)
q remote sync >/dev/null
Q_SPOOL=$other run_q remote worker
q remote sync >/dev/null
is "$(q log "$m")" "$scratch/other/sub" "a job runs in the same place of the other host's repository"
rl=$(q add -- echo read-back)
q remote sync >/dev/null
Q_SPOOL=$other run_q remote worker
is "$(q list --json | jpy '[x["state"] for x in j if x["id"] == "'"$rl"'"][0]')" completed \
	"q list brings back the verdict of a job another host ran"
rl2=$(q add -- echo read-back-2)
q remote sync >/dev/null
Q_SPOOL=$other run_q remote worker
run_q result "$rl2"
is "$out" "$rl2 completed exit 0" "and q result"
wt=$(q add -- sh -c 'sleep 0.5; echo waited')
q remote sync >/dev/null
Q_SPOOL=$other q_bg ow remote worker
RUN_Q_TIMEOUT=20 run_q wait "$wt"
is "$rc:$out" "0:$wt completed exit 0" "q wait returns when another host's worker finished the job"
wait "$bg_pid"

# --- secrets stay out of the database --------------------------------------------
s=$(MY_TOKEN=s3cr3t-value q add --secret-env MY_TOKEN -- sh -c 'echo "token=$MY_TOKEN"')
q remote sync >/dev/null
unlike "$(pg_psql -c "select spec from q.job where id = '$s'")" s3cr3t "no secret in the remote's job"
MY_TOKEN=worker-side run_q remote worker
is "$(q log "$s")" "token=worker-side" "the worker supplies it from its own environment"
unlike "$(pg_psql -c "select string_agg(line, ' ') from q.event")" s3cr3t "nor in its events"

# --- what the review found ------------------------------------------------------
# A dependency that completed here (it never went to the remote).
la=$(q add --sync -- true | head -1)
lb=$(q add --after "$la" -- echo after-local)
lc=$(q add -- echo unrelated)
run_q remote worker
is "$rc" 0 "a job whose dependency ran here is forwarded"
is "$(q show --json "$lb" | jpy 'j["state"]'):$(q show --json "$lc" | jpy 'j["state"]')" \
	"completed:completed" "and runs, and blocks nothing else"

# A pending job whose advisory lock someone holds does not stop the others.
h1=$(q add -p high -- echo held-lock)
h2=$(q add -- echo next)
q remote sync >/dev/null
"$PG_BIN/psql" -X -q "$PG_SOCKET_URL" -c "select pg_advisory_lock(q.lockkey(n)) from q.job
	where id = '$h1'; select pg_sleep(4)" >/dev/null 2>&1 &
lockpid=$!
wait_for "[ \"\$(pg_psql -c \"select count(*) from pg_locks where locktype = 'advisory'\")\" = 1 ]" 5
run_q remote worker --once
is "$(q show --json "$h2" | jpy 'j["state"]')" completed "a worker claims past a job whose lock is held"
wait "$lockpid"
run_q remote worker
is "$(q show --json "$h1" | jpy 'j["state"]')" completed "and that job runs once the lock is free"

# job.on_finish is called for verdicts brought back.
of=$(Q_JOB_ON_FINISH='echo "$1 $2" >>"$HOME/finished"' q add -- true)
Q_JOB_ON_FINISH='echo "$1 $2" >>"$HOME/finished"' run_q remote worker
wait_for "grep -q '$of completed' '$HOME/finished'" 10
ok $? "job.on_finish runs for a verdict brought back from the remote"

# A paused spool forwards nothing, and its remote worker claims nothing.
q pause
pz=$(q add -- echo paused)
run_q remote worker
is "$(q show --json "$pz" | jpy 'j["state"]')" pending "a paused spool forwards nothing"
q resume
run_q remote worker
is "$(q show --json "$pz" | jpy 'j["state"]')" completed "and runs the job once resumed"

# A job of a type this q cannot run goes back for a host that can, costing no attempt.
fj=$(q add -- echo future)
q remote sync >/dev/null
pg_psql -c "update q.job set spec = replace(spec, '\"type\":\"exec\"', '\"type\":\"future\"')
	where id = '$fj'"
run_q remote worker --once
is "$(pg_psql -c "select state, tries from q.job where id = '$fj'")" "deferred|0" \
	"a job for another q is deferred, no attempt spent"
like "$(cat "$Q_SPOOL/spool.log")" "$fj: cannot run here: job type 'future' is unknown" \
	"and spool.log says why"
q cancel "$fj"
is "$(q show --json "$fj" | jpy 'j["state"]')" cancelled "it can be cancelled meanwhile"

# A stopped worker keeps its session: its job is not run a second time.
stp=$(q add -- sh -c 'echo start >>"$HOME/stp"; sleep 6')
q remote sync >/dev/null
Q_REMOTE_DETECT=3s q_bg stopped remote worker
stopped=$bg_pid
wait_for '[ -s "$HOME/stp" ]' 10
kill -STOP "$stopped"
pg_psql -c "select pg_notify('q_job', repeat('x', 7000)) from generate_series(1, 60)" >/dev/null
sleep 4
Q_REMOTE_DETECT=3s run_q remote worker --once
is "$(grep -c start "$HOME/stp")" 1 "a stopped worker's job is not run again, notifications or not"
kill -CONT "$stopped"
wait "$stopped"
is "$?" 0 "the worker goes on once continued"
is "$(q show --json "$stp" | jpy 'j["state"]+" "+str(j["attempts"])')" "completed 1" \
	"and its job completes on its first attempt"

# q hold and q release of a forwarded job act in the remote.
hd=$(q add -- echo held-remotely)
q remote sync >/dev/null
run_q hold "$hd"
is "$rc" 0 "q hold of a forwarded job"
is "$(pg_psql -c "select state from q.job where id = '$hd'")" held "holds it in the remote"
run_q remote worker
is "$(pg_psql -c "select state from q.job where id = '$hd'")" held "where workers leave it"
run_q release "$hd"
is "$rc" 0 "q release of it"
run_q release "$hd"
is "$rc:$err" "1:q: job $hd is not held" "releasing it again is refused"
run_q remote worker
is "$(q show --json "$hd" | jpy 'j["state"]')" completed "released, it runs"
like "$(cat "$Q_SPOOL"/logs/*/"$hd".events)" '"held".*"released"' "its log has both events"

# q retry of a job whose verdict came back runs it again through the remote.
rt=$(q add -- sh -c 'n=$(cat "$HOME/rt" 2>/dev/null || echo 0); echo $((n+1)) >"$HOME/rt"; [ $n -ge 1 ]')
run_q remote worker
is "$(q show --json "$rt" | jpy 'j["state"]')" failed "a job fails through the remote"
run_q retry "$rt"
is "$rc" 0 "q retry of it"
run_q remote worker
is "$(q show --json "$rt" | jpy 'j["state"]+" "+str(j["attempts"])')" "completed 1" \
	"it runs again through the remote and completes"
is "$(grep -c '"event":"forwarded"' "$Q_SPOOL"/logs/*/"$rt".events)" 2 \
	"its log keeps both runs, each after its forwarded event"
is "$(grep -c '"event": "start"' "$Q_SPOOL"/logs/*/"$rt".events)" 2 "each start once"

# --- status and fsck ----------------------------------------------------------
run_q remote status --json
is "$rc" 0 "q remote status --json"
is "$(echo "$out" | jpy 'j["connected"], j["schema"], j["to_forward"], j["forwarded"]')" \
	'[true, 1, 0, 0]' "says connected, the schema, nothing to forward or bring back"
is "$(echo "$out" | jpy 'j["origins"][open("'"$Q_SPOOL"'/remote.origin").read().strip()]["completed"] > 5')" \
	true "counts jobs per origin and state"
n=$(q add -- echo lost)
q remote sync >/dev/null
pg_psql -c "delete from q.job where id = '$n'"
run_q remote fsck
is "$rc" 1 "q remote fsck finds a forwarded job the remote lacks"
like "$out" "forwarded/$n: the remote has no such job" "and names it"
run_q remote worker
is "$(q show --json "$n" | jpy 'j["state"]')" completed "a new worker sends it again and runs it"
run_q remote fsck
is "$rc:$out" "0:" "the remote is consistent again"

# --- a server that stops answering: the worker gives up and stops its jobs -------
# Its backend stopped (SIGSTOP), the server's kernel still answers TCP: only
# the worker's own limit (0.4 x remote.detect without an answer) ends it.
u=$(q add -- sh -c '[ "$Q_ATTEMPT" = 1 ] || exit 0; echo $$ >"$HOME/u.pid"; exec sleep 60')
Q_REMOTE_DETECT=3s q_bg w2 remote worker
wait_for '[ -s "$HOME/u.pid" ]' 10
ok $? "a long job runs"
ub=$(pg_psql -c "select worker from q.job where id = '$u'")
ub=${ub##*/}
kill -STOP "$ub"
wait_gone 10 "$(cat "$HOME/u.pid")"
ok $? "the worker's backend stopped answering: the worker kills its job"
wait_gone 5 "$bg_pid"
! alive "$bg_pid" || kill -9 "$bg_pid" # (a worker still waiting fails, not hangs, the test)
wait "$bg_pid"
is "$?" 3 "and exits 3"
like "$(cat "$scratch/w2.err")" "no answer from the server in 1200 ms" "saying the server did not answer"
kill -CONT "$ub"
wait_for "[ \"\$(pg_psql -c 'select count(*) from pg_stat_activity where pid = $ub')\" = 0 ]" 10
ok $? "once continued, the backend finds its worker gone and ends"
run_q remote worker
is "$(q show --json "$u" | jpy 'j["state"]+" "+str(j["interrupts"])')" "completed 1" \
	"and the next worker recovers the job"

# --- retention ----------------------------------------------------------------
live=$(q add --hold -- echo kept)
q release "$live"
q remote sync >/dev/null
q hold "$live"
Q_GC_COMPLETED=1ms Q_GC_FAILED=1ms Q_GC_INTERVAL=1ms run_q remote worker --once
is "$rc" 0 "a worker with gc due"
is "$(pg_psql -c "select count(*) from q.job where state <> 'held'")" 0 \
	"removes the final jobs whose verdicts came back, with gc.completed and gc.failed"
is "$(pg_psql -c "select count(*) from q.event e where not exists (select 1 from q.job j where j.n = e.n)")" 0 \
	"and their events"
is "$(pg_psql -c "select state from q.job where id = '$live'")" held "a live job stays"
is "$(q show --json "$a" | jpy 'j["state"]')" completed "the spool keeps its verdicts"
# A job a held one depends on is kept; released, the held one fails.
gx=$(q add -- false)
gk=$(q add --after "$gx" -- echo never)
q remote sync >/dev/null
q hold "$gk"
run_q remote worker
Q_GC_COMPLETED=1ms Q_GC_FAILED=1ms Q_GC_INTERVAL=1ms run_q remote worker --once
is "$(pg_psql -c "select state from q.job where id = '$gx'")" failed \
	"gc keeps a failed job a held job depends on"
q release "$gk"
run_q remote sync
is "$(q show --json "$gk" | jpy 'j["state"]+" "+j["error"]')" "failed dependency_failed" \
	"released, the held job fails for its dependency"
# Another worker's gc holding the lock on q.meta makes no one wait (or give up its jobs).
gl=$(q add -- sleep 1)
q remote sync >/dev/null
"$PG_BIN/psql" -X -q "$PG_SOCKET_URL" -c "begin; select * from q.meta for update;
	select pg_sleep(4); commit" >/dev/null 2>&1 &
metapid=$!
sleep 0.5
Q_GC_INTERVAL=1ms Q_REMOTE_DETECT=3s run_q remote worker
is "$rc:$(q show --json "$gl" | jpy 'j["state"]')" "0:completed" \
	"a gc another worker runs holds up nothing"
wait "$metapid"
# A held retry keeps its backoff: released, it is deferred again.
gd=$(q add --backoff 1h -- sh -c 'exit 75')
run_q remote worker --once
is "$(pg_psql -c "select state from q.job where id = '$gd'")" deferred "a tempfail waits for its backoff"
q hold "$gd"
q release "$gd"
is "$(pg_psql -c "select state from q.job where id = '$gd'")" deferred "held and released, it still does"
q cancel "$gd"

done_testing
