#!/usr/bin/env bash
# q remote: workers and hosts that are lost.  A worker killed with -9 (its
# job dies with it; the next worker recovers the job at once); a host that
# is offline (adds still work; the jobs wait here and go in order once the
# server is back); a worker frozen by SIGSTOP (its job is not recovered:
# it still runs); a host cut off silently, in network namespaces of this
# test (as root; skipped elsewhere): its worker kills the job before the
# server frees it to a worker on this side, whether its own route to the
# server failed or the packets are lost on the way.  Times are printed,
# not asserted (bench/ is for performance).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

pg_start
export Q_REMOTE_URL
q remote init >/dev/null || bail_out "q remote init failed"
R=$scratch/runs
mkdir -p "$R"

# job.sh NAME: the first attempt runs long (60 s), later ones end at once.
# Each attempt holds NAME.lk while it runs: an attempt that finds it taken
# ran while an earlier one was still alive, and says so in NAME.twice.
cat >"$scratch/job.sh" <<'EOF'
#!/bin/sh
R=$1 name=$2
exec 9>>"$R/$name.lk"
flock -n 9 || echo "attempt $Q_ATTEMPT" >>"$R/$name.twice"
echo $$ >"$R/$name.pid"
echo "$Q_ATTEMPT" >>"$R/$name.starts"
[ "$Q_ATTEMPT" = 1 ] && exec sleep 60
exit 0
EOF
chmod +x "$scratch/job.sh"

# row ID: the job's state and worker in the remote ("state worker").
row() {
	pg_psql -c "select state || ' ' || coalesce(worker, '-') from q.job where id = '$1'"
}

# events ID: the job's event names, one line.
events() {
	pg_psql -c "select string_agg(line::json->>'event' || coalesce('/' ||
		(line::json->>'reason'), ''), ' ' order by seq) from q.event e join q.job j
		using (n) where j.id = '$1'"
}

# backend_gone PID: the server has ended the session of backend PID.
backend_gone() {
	[ "$(pg_psql -c "select count(*) from pg_stat_activity where pid = $1")" = 0 ]
}

# secs MS: milliseconds as seconds, 3 decimals.
secs() {
	printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# start_long NAME: queue job.sh NAME and a worker, and wait until the job
# runs: sets job (its id), worker (the worker's pid), old (its row).
start_long() {
	job=$(q add -- "$scratch/job.sh" "$R" "$1")
	q_bg "w-$1" remote worker
	worker=$bg_pid
	wait_for "[ -s '$R/$1.pid' ]" 10
	ok $? "a long job runs on a worker"
	old=$(row "$job")
}

# --- a worker killed -9 while its job runs -----------------------------------
start_long a
a=$job w1=$worker
apid=$(cat "$R/a.pid")
like "$old" "^running [^ ]+/$w1/[0-9]+$" "the remote names the worker that runs it"
backend=${old##*/}
sup=$(sed 's/.*) //' "/proc/$apid/stat" | cut -d' ' -f2)
t0=$(now_ms)
{ kill -9 "$w1"; wait "$w1"; } 2>/dev/null # (bash's "Killed" line is not for the TAP output)
wait_gone 10 "$apid" "$sup"
ok $? "killing the worker (-9) kills its job and the job's supervisor"
t_dead=$(($(now_ms) - t0))
wait_for "backend_gone $backend" 10
ok $? "the server ends the dead worker's session"
t_freed=$(($(now_ms) - t0))
is "$(row "$a")" "$old" "until another worker looks, the job stays running in the remote"
q_bg w2 remote worker
w2=$bg_pid
t_back=
end=$(($(now_ms) + 10000))
while [ "$(now_ms)" -lt "$end" ]; do
	case $(row "$a") in
	pending* | completed*) ;;
	running\ *) [ "$(row "$a")" != "$old" ] || { sleep 0.02; continue; } ;;
	*) sleep 0.02; continue ;;
	esac
	t_back=$(($(now_ms) - t0))
	break
done
isnt "$t_back" "" "a worker started afterwards recovers the job"
note "kill -9: job dead after $(secs "$t_dead") s, session freed after $(secs "$t_freed") s," \
	"job back in the queue after $(secs "${t_back:-0}") s (a new worker started at $(secs "$t_freed") s)"
wait "$w2"
is "$?" 0 "the second worker exits 0"
is "$(events "$a")" "start requeued/worker_died start exit completed" \
	"events: requeued (worker_died), then a new start"
is "$(q show --json "$a" | jpy '[j["state"], j["interrupts"], j["attempts"]]')" \
	'["completed", 1, 1]' "the job completed, 1 attempt spent: the lost one is an interrupt"
is "$(pg_psql -c "select tries || ' ' || interrupts || ' ' || attempt from q.job where id = '$a'")" \
	"1 1 2" "in the remote: 1 attempt spent, 1 interrupted, 2 claims"
is "$(cat "$R/a.twice" 2>/dev/null)" "" "the two attempts never ran at once"

# --- the same, while another host's worker waits for jobs (--watch) --------------
# Nothing tells it that a worker died: it must look (q.rescue) on its own.
start_long b
b=$job w4=$worker
mkdir -p "$scratch/watcher"
Q_SPOOL=$scratch/watcher/spool "$Q" remote worker --watch >/dev/null 2>"$scratch/watcher.err" &
watcher=$!
sleep 1.$((RANDOM % 10)) # (its first round done, it waits; then any moment)
t0=$(now_ms)
{ kill -9 "$w4"; wait "$w4"; } 2>/dev/null
wait_for '[ "$(row "$b")" != "$old" ]' 10
ok $? "an idle --watch worker on another host recovers the job of a worker killed -9"
note "kill -9 with a --watch worker elsewhere: the job left its dead worker after" \
	"$(secs $(($(now_ms) - t0))) s"
wait_for '[ "$(row "$b")" = "completed -" ]' 10
ok $? "and runs it to completion"
kill "$watcher"
wait "$watcher" 2>/dev/null
is "$(cat "$scratch/watcher.err")" "" "saying nothing"
is "$(cat "$R/b.twice" 2>/dev/null)" "" "the two attempts never ran at once"

# --- an offline host: adds work, jobs wait here, and go in order later ---------
# q_running: q processes of this test (workers that async adds started).
q_running() {
	local p exe cwd
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in "$TOP/bin/q" | "$TOP/bin/q-remote") ;; *) continue ;; esac
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		_under_scratch "$cwd" && return 0
	done
	return 1
}
pg_stop || bail_out "cannot stop the server"
ids=() bad=0
for i in 1 2 3 4 5; do
	mode=manual
	[ $((i % 2)) = 1 ] && mode=async
	id=$(Q_SYNC_MODE=$mode q add -- sh -c 'echo "$Q_JOB_ID" >>"$1"' _ "$R/order") || bad=1
	[[ $id =~ ^[0-9a-z]{14}$ ]] || bad=1
	ids+=("$id")
done
is "$bad" 0 "offline: q add (async and manual) exits 0 and prints an id, 5 times"
wait_for '! q_running' 10
ok $? "the workers the async adds started have given up"
run_q worker
is "$rc" 3 "offline: q worker fails (exit 3)"
like "$err" "cannot connect to the remote.*127\.0\.0\.1.*$PGPORT" "and says it cannot reach the remote, naming it"
is "$(q list --json | jpy '" ".join(sorted(x["id"] + ":" + x["state"] for x in j if x["id"] in "'"${ids[*]}"'"))')" \
	"$(printf '%s:pending ' "${ids[@]}" | sed 's/ $//')" "the 5 jobs wait here, pending, nothing lost"
run_q remote status
is "$rc" 3 "offline: q remote status exits 3"
like "$out" "remote: unreachable" "and says unreachable"
pg_restart_server || bail_out "PostgreSQL did not start again"
run_q remote worker -j 1
is "$rc" 0 "back online: q remote worker runs them"
is "$(cat "$R/order" 2>/dev/null | tr '\n' ' ')" "$(printf '%s ' "${ids[@]}")" "in the order they were added"
is "$(q list --json | jpy '" ".join(sorted(set(x["state"] for x in j if x["id"] in "'"${ids[*]}"'")))')" \
	completed "all completed, their verdicts back here"

# --- a frozen worker (SIGSTOP): its job is not lost, so not recovered -----------
# Its kernel answers the keepalives and the job runs on under its
# supervisor: recovering the job would run it twice at once.
other=$scratch/other/spool
mkdir -p "$scratch/other"
f=$(q add -- sh -c 'echo $$ >"$1/f.pid"; sleep 1.5; echo done >"$1/f.done"' _ "$R")
Q_REMOTE_DETECT=3s q_bg w3 remote worker
w3=$bg_pid
wait_for '[ -s "$R/f.pid" ]' 10
ok $? "a job runs"
old=$(row "$f")
kill -STOP "$w3"
t0=$(now_ms) rounds=0 moved= fpid=$(cat "$R/f.pid") job_alive=1
# 3 s, or until the job has ended (a loaded machine).
while t=$(($(now_ms) - t0)) && { [ $t -lt 3000 ] || { [ ! -e "$R/f.done" ] && [ $t -lt 10000 ]; }; }; do
	Q_SPOOL=$other Q_REMOTE_DETECT=3s "$Q" remote worker --once >/dev/null 2>>"$scratch/other.err"
	rounds=$((rounds + 1))
	[ "$(row "$f")" = "$old" ] || moved="$moved $(row "$f")"
	[ $rounds = 1 ] && ! alive "$fpid" && job_alive=0
	sleep 0.1
done
note "$rounds rounds of another host's worker while this one was frozen"
is "$moved" "" "the job of a frozen worker stays running, and its own, through other workers' rounds"
is "$job_alive" 1 "its job runs on meanwhile"
ok "$([ -e "$R/f.done" ]; echo $?)" "to its end, while the worker is still stopped"
is "$(cat "$scratch/other.err")" "" "the other host's workers see nothing wrong"
kill -CONT "$w3"
wait "$w3"
is "$?" 0 "once continued, the worker exits 0"
is "$(events "$f")" "start exit completed" "the job completed once, never requeued"
is "$(q show --json "$f" | jpy '[j["state"], j["attempts"], j["interrupts"]]')" '["completed", 1, 0]' \
	"completed here, one attempt, no interrupt"

# --- a host cut off, in network namespaces of this test ---------------------------
# The worker runs in a namespace W, reaching the server through a router
# namespace R over two veth pairs (10.201.N.0/29, private; W and R have no
# route anywhere else, so nothing leaves the machine):
#
#	server 10.201.N.1 (here) -- .2 R .5 -- .6 W (the worker)
#
# Then W is cut off, silently (no reset, no ICMP), either on its own side
# (a blackhole route in W: its sends fail there, while the server's
# packets still come in) or in between (blackhole routes in R: every
# packet is lost on the way).
wns= rns= vh=
_netns_exit() {
	local status=$? n p
	for n in $wns $rns; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$n" 2>/dev/null
	done
	[ -z "$vh" ] || ip link del "$vh" 2>/dev/null
	wns= rns= vh=
	return "$status"
}
trap '_netns_exit; _pg_exit; _cleanup' EXIT

# netns_setup: 0 when the namespaces are there, else 1 and the reason in $why.
netns_setup() {
	local n try vr vx vw
	for try in 1 2 3 4 5 6 7 8 9 10; do
		n=$((RANDOM % 250 + 1))
		{ ip -o addr show; ip route show table all; } | grep -q "10\.201\.$n\." || break
		[ $try = 10 ] && { why="no free 10.201.N.0/29 in 10 tries"; return 1; }
	done
	net=10.201.$n server_ip=$net.1 worker_ip=$net.6
	rns=q-t0403-$$-r
	ip netns add "$rns" 2>"$scratch/netns.err" || {
		rns=
		why="no network namespace (ip netns add: $(head -1 "$scratch/netns.err"))"
		return 1
	}
	wns=q-t0403-$$-w vh=q$$a vr=q$$b vx=q$$c vw=q$$d
	{
		ip netns add "$wns" &&
			ip link add "$vh" type veth peer name "$vr" &&
			ip link add "$vx" type veth peer name "$vw" &&
			ip link set "$vr" netns "$rns" && ip link set "$vx" netns "$rns" &&
			ip link set "$vw" netns "$wns" &&
			ip addr add "$server_ip/30" dev "$vh" && ip link set "$vh" up &&
			ip route add "$net.4/30" via "$net.2" dev "$vh" &&
			ip netns exec "$rns" sh -c "ip addr add $net.2/30 dev $vr && ip addr add $net.5/30 dev $vx &&
				ip link set $vr up && ip link set $vx up &&
				echo 1 >/proc/sys/net/ipv4/ip_forward" &&
			ip netns exec "$wns" sh -c "ip addr add $worker_ip/30 dev $vw && ip link set $vw up &&
				ip link set lo up && ip route add $net.0/30 via $net.5"
	} >"$scratch/netns.err" 2>&1 || {
		why="cannot set up veth pairs in network namespaces: $(head -1 "$scratch/netns.err")"
		return 1
	}
	# The server listens on the veth too, and trusts the namespaces.
	echo "host all all 10.201.0.0/16 trust" >>"$(pg_psql -c 'show hba_file')"
	pg_listen=127.0.0.1,$server_ip
	pg_stop && pg_restart_server || bail_out "PostgreSQL did not start again"
	[ "$(ip netns exec "$wns" env PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -At \
		"postgresql://q@$server_ip:$PGPORT/q" -c 'select 1' 2>"$scratch/netns.err")" = 1 ] || {
		why="the namespace does not reach the server: $(head -1 "$scratch/netns.err")"
		return 1
	}
}

# cut_off NAME HOW: a long job on W's worker; W cut off HOW (own: its own
# route; between: in R); a worker on this side recovers the job.
cut_off_tests=13
cut_off() {
	local name=$1 how=$2 id lpid nsw old backend t0 t rescuer
	local t_stop= t_exit= t_freed= t_new= freed_early=0

	id=$(q add -- "$scratch/job.sh" "$R" "$name")
	q remote sync >/dev/null
	mkdir -p "$scratch/hostw"
	ip netns exec "$wns" env Q_SPOOL="$scratch/hostw/spool" Q_REMOTE_DETECT=4s \
		Q_REMOTE_URL="postgresql://q@$server_ip:$PGPORT/q" "$Q" remote worker \
		>"$scratch/$name.out" 2>"$scratch/$name.err" </dev/null &
	nsw=$!
	wait_for '[ -s "$R/$name.pid" ]' 10
	ok $? "$how: a worker in the namespace runs a long job"
	lpid=$(cat "$R/$name.pid")
	old=$(row "$id")
	like "$old" "^running [^ ]+/$nsw/[0-9]+$" "$how: the remote names that worker"
	backend=${old##*/}

	t0=$(now_ms)
	case $how in
	own)
		ip netns exec "$wns" ip route add blackhole "$server_ip/32" ;;
	between)
		ip netns exec "$rns" ip route add blackhole "$server_ip/32" &&
			ip netns exec "$rns" ip route add blackhole "$worker_ip/32" ;;
	esac || bail_out "cannot cut the namespace off"
	# Something for the server to send the worker, as jobs added elsewhere do:
	# cut off on its own side, the worker's host still gets the resends.
	pg_psql -c "notify q_job"
	# A worker on this side of the cut: a round every 0.1 s.
	(
		while [ ! -e "$scratch/$name.stop" ]; do
			"$Q" remote worker --once >/dev/null 2>>"$scratch/$name.rescuer"
			sleep 0.1
		done
	) &
	rescuer=$!
	while t=$(($(now_ms) - t0)) && [ "$t" -lt 20000 ]; do
		[ -n "$t_stop" ] || alive "$lpid" || t_stop=$t
		[ -n "$t_exit" ] || alive "$nsw" || t_exit=$t
		if [ -z "$t_freed" ] && backend_gone "$backend"; then
			t_freed=$t
			! alive "$lpid" || freed_early=1
		fi
		[ -n "$t_new" ] || [ "$(wc -l <"$R/$name.starts")" -lt 2 ] || t_new=$t
		[ -n "$t_stop" ] && [ -n "$t_exit" ] && [ -n "$t_freed" ] && [ -n "$t_new" ] && break
		sleep 0.02
	done
	ok "$([ -n "$t_stop" ]; echo $?)" "$how: the cut-off worker kills its job"
	! alive "$nsw" || kill -KILL "$nsw" # (fails the test, not hangs it)
	wait "$nsw"
	is "$?" 3 "$how: and exits 3"
	like "$(cat "$scratch/$name.err")" "lost the remote: stopped 1 running job" \
		"$how: saying it lost the remote"
	ok "$([ -n "$t_freed" ]; echo $?)" "$how: the server ends the cut-off worker's session"
	is "$freed_early" 0 "$how: only after the job was dead"
	ok "$([ -n "$t_new" ]; echo $?)" "$how: a worker on this side runs the job again"
	note "cut off ($how): the worker killed its job after $(secs "${t_stop:-0}") s, exited" \
		"after $(secs "${t_exit:-0}") s; the server freed the job after $(secs "${t_freed:-0}") s;" \
		"it started again after $(secs "${t_new:-0}") s (remote.detect 4s)"
	wait_for '[ "$(q show --json "$id" | jpy "j[\"state\"]")" = completed ]' 10
	ok $? "$how: and it completes, its verdict back here"
	touch "$scratch/$name.stop"
	wait "$rescuer"
	is "$(cat "$R/$name.twice" 2>/dev/null)" "" "$how: the old attempt was dead before the new one started"
	is "$(events "$id")" "start requeued/worker_died start exit completed" \
		"$how: events: requeued (worker_died), then a new start"
	is "$(pg_psql -c "select tries || ' ' || interrupts from q.job where id = '$id'")" "1 1" \
		"$how: one attempt spent, one interrupted"
	is "$(cat "$scratch/$name.rescuer")" "" "$how: the workers on this side reported nothing wrong"
	# Heal the cut.
	case $how in
	own) ip netns exec "$wns" ip route del blackhole "$server_ip/32" ;;
	between)
		ip netns exec "$rns" ip route del blackhole "$server_ip/32"
		ip netns exec "$rns" ip route del blackhole "$worker_ip/32" ;;
	esac
}

why=
if netns_setup; then
	note "namespaces $rns and $wns: $worker_ip -> server at $server_ip:$PGPORT"
	cut_off own own
	cut_off between between
	_netns_exit
	ok "$( { ip link show "q$$a" || ip netns list | grep "^q-t0403-$$-"; } >/dev/null 2>&1; echo $((!$?)))" \
		"the namespaces and veth pairs are gone"
else
	_netns_exit
	skip $((2 * cut_off_tests + 1)) "$why"
fi

done_testing
