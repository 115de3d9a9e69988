#!/usr/bin/env bash
# Several hosts (each a spool with its own origin) drain one PostgreSQL queue
# while their workers get SIGKILL at random moments and the server is
# crashed (pg_ctl stop -m immediate) and restarted.  Afterwards: every
# acknowledged add has exactly one verdict, brought back to its spool; no
# job ran twice at once; no key was held by two live jobs; fsck is clean on
# every spool and on the remote.
#
# Size: QTEST_REMOTE_JOBS jobs per host (120; 40 under the sanitizers),
# QTEST_REMOTE_HOSTS hosts (3).  `make chaos-remote` runs 10,000 jobs.
# TEST_SEED=S replays the random choices (the seed is printed).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/remote-lib.sh"

jobs=120
[ "${QTEST_SANITIZE:-}" != 1 ] || jobs=40
jobs=${QTEST_REMOTE_JOBS:-$jobs}
hosts=${QTEST_REMOTE_HOSTS:-3}
seed=${TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
RANDOM=$seed
note "seed $seed, $hosts hosts x $jobs jobs (replay: TEST_SEED=$seed)"

pg_start
export Q_REMOTE_URL
q remote init >/dev/null
# A worker killed mid-job costs an interrupt: allow plenty, so every job completes.
export Q_JOB_MAX_INTERRUPTS=1000 Q_WORKER_MAX=3 Q_WORKER_LINGER=0
R=$scratch/runs
mkdir -p "$R"

# Each job holds a lock while it runs: a second copy of it running at the
# same time finds it taken (flock -n) and says so in $R/twice.
cat >"$scratch/job.sh" <<'EOF'
#!/bin/sh
# job.sh ID MS
R=$1; id=$2; ms=$3
flock -n -E 99 "$R/$id.lk" sh -c 'echo "$1" >>"$2/starts"; sleep "$3"' _ "$id" "$R" \
	"$(printf '0.%03d' "$ms")"
[ $? = 99 ] && echo "$id" >>"$R/twice"
exit 0
EOF
chmod +x "$scratch/job.sh"

# --- adds: batches, some with a key shared across hosts ------------------------
for h in $(seq 1 "$hosts"); do
	sp=$scratch/h$h/spool
	mkdir -p "$scratch/h$h"
	: >"$scratch/h$h.ids"
	for b in $(seq 1 $((jobs / 20))); do
		lines=
		for i in $(seq 1 20); do
			lines+="[\"$scratch/job.sh\", \"$R\", \"h$h-$b-$i\", \"$((RANDOM % 100))\"]"$'\n'
		done
		printf '%s' "$lines" | Q_SPOOL=$sp "$Q" add --batch >>"$scratch/h$h.ids" ||
			bail_out "q add --batch failed on host $h"
	done
	for k in 1 2 3; do
		Q_SPOOL=$sp "$Q" add --key "shared-$k" -- "$scratch/job.sh" "$R" "h$h-key-$k" 50 \
			>>"$scratch/h$h.keyed" || bail_out "q add --key failed"
	done
done
total=$((hosts * (jobs / 20) * 20))
is "$(cat "$scratch"/h*.ids | sort -u | wc -l)" "$total" "$total jobs acknowledged"

# --- workers, killed at random; the server crashed twice -----------------------
stop=$scratch/stop
start_workers() {
	local h=$1
	while [ ! -e "$stop" ]; do
		Q_SPOOL=$scratch/h$h/spool "$Q" worker -j 2 >/dev/null 2>>"$scratch/workers.err" &
		echo $! >"$scratch/w$h.$!"
		wait $! 2>/dev/null
		rm -f "$scratch/w$h.$!"
		sleep 0.0$((RANDOM % 5))
	done
}
for h in $(seq 1 "$hosts"); do
	start_workers "$h" &
	echo $! >>"$scratch/spawners"
done

kills=0 crashes=0 keys_twice=0
all_final() {
	for h in $(seq 1 "$hosts"); do
		[ "$(Q_SPOOL=$scratch/h$h/spool "$Q" status --json |
			jpy 'j["pending"] + j["running"]')" = 0 ] || return 1
	done
}
end=$(($(now_ms) + 120000 + total * 60))
round=0
# Until every job is final and the server was crashed twice: a quick run
# (the sanitizer pass queues fewer jobs) must not end before the crashes.
while { ! all_final || [ $crashes -lt 2 ]; } && [ "$(now_ms)" -lt "$end" ]; do
	round=$((round + 1))
	sleep 0.$((RANDOM % 3 + 1))
	# SIGKILL a random worker (q worker, or the q remote worker it became).
	set -- "$scratch"/w*.*
	if [ -e "$1" ]; then
		pid=${1##*.}
		shift $((RANDOM % $#))
		pid=${1##*.}
		kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
	fi
	if { [ $round = 2 ] || [ $round = 4 ]; } && [ $crashes -lt 2 ]; then
		pg_stop_immediate && crashes=$((crashes + 1))
		sleep 0.$((RANDOM % 5 + 1))
		pg_restart_server || bail_out "PostgreSQL did not come back"
	fi
	n=$(pg_psql -c "select count(*) from (select key from q.job where key is not null and
		state in ('pending', 'deferred', 'waiting', 'held', 'running') group by key
		having count(*) > 1) k" 2>/dev/null)
	[ "${n:-0}" = 0 ] || keys_twice=$((keys_twice + 1))
done
touch "$stop"
while read -r p; do wait "$p" 2>/dev/null; done <"$scratch/spawners"
note "$round rounds, $kills workers killed, $crashes server crashes"
ok $((kills == 0)) "workers were killed ($kills)"
is "$crashes" 2 "the server was crashed twice"

# --- what must hold -----------------------------------------------------------
ok "$(all_final; echo $?)" "every job is final and back in its spool"
is "$keys_twice" 0 "no key was ever held by two live jobs"
is "$(cat "$R/twice" 2>/dev/null | wc -l)" 0 "no job ran twice at once"
ran=0
for h in $(seq 1 "$hosts"); do
	sp=$scratch/h$h/spool
	Q_SPOOL=$sp "$Q" list --json >"$scratch/h$h.json"
	# ids, keyed ids, the list: every add there and completed; keyed ones ran or were duplicates.
	res=$(python3 - "$scratch/h$h.ids" "$scratch/h$h.keyed" "$scratch/h$h.json" <<'PY'
import json, sys
ids = open(sys.argv[1]).read().split()
keyed = open(sys.argv[2]).read().split()
jobs = {j["id"]: j for j in json.load(open(sys.argv[3]))}
bad = [i for i in ids if jobs.get(i, {}).get("state") != "completed"]
ran = sum(1 for i in keyed if jobs.get(i, {}).get("state") == "completed")
dup = sum(1 for i in keyed if jobs.get(i, {}).get("state") == "cancelled"
          and jobs[i].get("error") == "duplicate")
# What went wrong, said on stderr: the job's state and error.
for i in bad[:5] + [k for k in keyed if jobs.get(k, {}).get("state") != "completed"
                    and jobs.get(k, {}).get("error") != "duplicate"]:
    j = jobs.get(i, {})
    print("#", i, j.get("state"), j.get("error"), file=sys.stderr)
print(len(bad), ran, ran + dup, len(jobs))
PY
)
	set -- $res
	is "$1" 0 "host $h: every acknowledged job is there and completed"
	is "$3" 3 "host $h: each keyed job completed, or was cancelled as a duplicate"
	is "$4" "$(($(wc -l <"$scratch/h$h.ids") + 3))" "host $h: no other job"
	ran=$((ran + $2))
	verdicts=$(find "$sp"/done "$sp"/failed "$sp"/cancelled "$sp"/expired -type f | wc -l)
	is "$verdicts" "$(($(wc -l <"$scratch/h$h.ids") + 3))" "host $h: exactly one verdict per job"
	Q_SPOOL=$sp run_q fsck
	is "$rc:$out" "0:" "host $h: fsck is clean"
done
run_q remote fsck
is "$rc:$out" "0:" "the remote is consistent"
is "$(pg_psql -c "select count(*) from q.job where not mirrored or state <> 'completed'")" 0 \
	"every job in the remote completed and was brought back"
is "$(sort -u "$R/starts" | wc -l)" "$((total + ran))" "every job that completed ran (and only those)"
note "$(wc -l <"$R/starts") starts for $((total + ran)) jobs"

done_testing
