#!/usr/bin/env bash
# .idlergear/q.conf, then Q_<SECTION>_<KEY>, then flags.
. "$(dirname "$0")/lib.sh"

export Q_SPOOL="$scratch/.idlergear/spool"
conf="$scratch/.idlergear/q.conf"
mkdir -p "$scratch/.idlergear"
unset Q_SYNC_MODE

# job_field ID FIELD: FIELD of the job file of ID (spool-format.md defaults
# applied when absent).
job_field() {
	python3 - "$(job_file "$1")" "$2" <<'EOF'
import json, sys
d = {"max_attempts": 1, "priority": 5, "timeout_ms": 0, "backoff_ms": 1000,
     "backoff_max_ms": 300000, "retry_timeout": False}
j = json.load(open(sys.argv[1]))
v = j.get(sys.argv[2], d.get(sys.argv[2]))
print(json.dumps(v))
EOF
}

# status_of ID
status_of() {
	"$Q" show --json "$1" 2>/dev/null | jpy 'j["status"]'
}

# --- sync.mode -----------------------------------------------------------------

printf '[sync]\n\tmode = "sync"\n' >"$conf"
run_q add -- sh -c 'echo from-the-job'
is "$rc" 0 "mode sync from q.conf: add exits like result (0)"
like "$out" 'from-the-job' "mode sync from q.conf: add runs the job and prints its output"
ids=$(q list --json | jpy '" ".join(x["id"] for x in j)')
is "$(status_of "$ids")" completed "mode sync from q.conf: job completed"

printf '[sync]\n\tmode = "manual"\n' >"$conf"
run_q add -- sh -c 'echo manual >ran-manual'
is "$rc" 0 "mode manual from q.conf: add exits 0"
m_id=$out
sleep 0.3
check "mode manual from q.conf: the job did not run" test ! -e ran-manual
is "$(status_of "$m_id")" pending "mode manual from q.conf: job pending"

# env overrides the file
printf '[sync]\n\tmode = "manual"\n' >"$conf"
Q_SYNC_MODE=sync run_q add -- sh -c 'echo env-sync'
like "$out" env-sync "Q_SYNC_MODE=sync overrides mode=manual in the file"
printf '[sync]\n\tmode = sync\n' >"$conf"
Q_SYNC_MODE=manual run_q add -- sh -c 'echo env-manual >ran-env'
e_id=$out
unlike "$out" env-manual "Q_SYNC_MODE=manual overrides mode=sync in the file"
is "$(status_of "$e_id")" pending "Q_SYNC_MODE=manual: job pending"

# the flag overrides the env
Q_SYNC_MODE=manual run_q add --sync -- sh -c 'echo flag-sync'
like "$out" flag-sync "--sync overrides Q_SYNC_MODE=manual"
Q_SYNC_MODE=sync run_q add --manual -- sh -c 'echo flag-manual >ran-flag'
f_id=$out
is "$(status_of "$f_id")" pending "--manual overrides Q_SYNC_MODE=sync"
check "--manual: the job did not run" test ! -e ran-flag

# --- job settings, reflected in the job file --------------------------------------

cat >"$conf" <<'EOF'
# a comment
; another comment
[sync]
	mode = manual
[job]
	attempts = 3
	backoff = 2s:1m
	timeout = 1500ms
EOF
run_q add -- true
id=$out
is "$rc" 0 "add with [job] settings exits 0"
is "$(job_field "$id" max_attempts)" 3 "job.attempts = 3 -> max_attempts 3"
is "$(job_field "$id" backoff_ms)" 2000 "job.backoff = 2s:1m -> backoff_ms 2000"
is "$(job_field "$id" backoff_max_ms)" 60000 "job.backoff = 2s:1m -> backoff_max_ms 60000"
is "$(job_field "$id" timeout_ms)" 1500 "job.timeout = 1500ms -> timeout_ms 1500"

Q_JOB_ATTEMPTS=4 Q_JOB_TIMEOUT=2s run_q add -- true
id=$out
is "$(job_field "$id" max_attempts)" 4 "Q_JOB_ATTEMPTS=4 overrides the file"
is "$(job_field "$id" timeout_ms)" 2000 "Q_JOB_TIMEOUT=2s overrides the file"
Q_JOB_ATTEMPTS=4 run_q add --attempts 5 --timeout 0 -- true
id=$out
is "$(job_field "$id" max_attempts)" 5 "--attempts 5 overrides the env"
is "$(job_field "$id" timeout_ms)" 0 "--timeout 0 overrides the file"

# Durations: ms, s, m, h, d, fractions, a plain number is seconds.
for pair in 500ms:500 1.5s:1500 2:2000 0.25:250 10m:600000 2h:7200000 1d:86400000 0:0; do
	run_q add --timeout "${pair%%:*}" -- true
	is "$rc:$(job_field "$out" timeout_ms)" "0:${pair#*:}" "--timeout ${pair%%:*} is ${pair#*:} ms"
done
run_q add --backoff 1.5s:2m -- true
is "$(job_field "$out" backoff_ms):$(job_field "$out" backoff_max_ms)" 1500:120000 "--backoff 1.5s:2m"
run_q add --backoff 250ms -- true
is "$(job_field "$out" backoff_ms)" 250 "--backoff 250ms (no max)"
for bad in 1x 1.5.5s -1 ms s '' 1e3 0x10; do
	run_q add --timeout "$bad" -- true
	is "$rc" 2 "--timeout '$bad' is a usage error"
done

# Syntax: case-insensitive keys, quoting and escapes, continuation lines,
# booleans, unknown keys and sections ignored, comments after values.
cat >"$conf" <<'EOF'
[unknown-section]
	whatever = 1
[SYNC]
	Mode = "man\
ual" ; trailing comment
	unknownkey = "x \" y"
[job]
	ATTEMPTS = 2 # another
EOF
run_q add -- sh -c 'echo syntax >ran-syntax'
is "$rc" 0 "git-config syntax features: add exits 0"
[ "$rc" = 0 ] || diag "$err"
id=$out
sleep 0.2
check "continued quoted value 'man\\ual' reads as manual" test ! -e ran-syntax
is "$(job_field "$id" max_attempts)" 2 "ATTEMPTS (upper case key) = 2"

# --- malformed files: exit 3, naming file and line --------------------------------

# bad_conf DESC LINE CONTENT
bad_conf() {
	local desc=$1 line=$2 before
	printf '%b' "$3" >"$conf"
	before=$(spool_listing)
	run_q add -- true
	is "$rc" 3 "$desc: add exits 3"
	is "$(printf '%s' "$err" | grep -c '')" 1 "$desc: one line on stderr"
	like "$err" '^q: ' "$desc: message starts with 'q: '"
	like "$err" 'q\.conf' "$desc: message names the file"
	like "$err" "(:$line([^0-9]|\$)|line $line([^0-9]|\$))" "$desc: message names line $line"
	is "$(spool_listing)" "$before" "$desc: nothing written"
	run_q worker --once
	is "$rc" 3 "$desc: worker exits 3"
}

bad_conf "unterminated section" 3 '# comment\n\n[sync\n\tmode = manual\n'
bad_conf "unterminated quote" 4 '[sync]\n# c\n\n\tmode = "unterminated\n'
bad_conf "line without =" 2 '[sync]\n\tthis is not a setting\n'
bad_conf "key before any section" 1 'mode = manual\n'
bad_conf "bad escape" 2 '[sync]\n\tmode = "a\\qb"\n'
bad_conf "bad value for sync.mode" 2 '[sync]\n\tmode = sometimes\n'
bad_conf "bad number for job.attempts" 3 '[sync]\nmode = manual\n[job]attempts = lots\n'
bad_conf "bad duration for job.timeout" 2 '[job]\n\ttimeout = 5 fortnights\n'

# A bad environment setting is an error too (exit 3 or usage 2, not ignored).
printf '[sync]\n\tmode = manual\n' >"$conf"
Q_JOB_ATTEMPTS=lots run_q add -- true
isnt "$rc" 0 "Q_JOB_ATTEMPTS=lots is an error"

# --- queue.max_pending ------------------------------------------------------------

rm -rf "$Q_SPOOL"
printf '[sync]\n\tmode = manual\n[queue]\n\tmax_pending = 2\n' >"$conf"
run_q add -- true
is "$rc" 0 "max_pending 2: first add"
run_q add -- true
is "$rc" 0 "max_pending 2: second add"
before=$(spool_listing)
run_q add -- true
is "$rc" 6 "max_pending 2: third add exits 6"
is "$out" "" "max_pending 2: third add prints no id"
like "$err" '^q: ' "max_pending 2: one 'q: ' message"
is "$(spool_listing)" "$before" "max_pending 2: nothing written"
is "$(q list --json | jpy 'len(j)')" 2 "max_pending 2: two jobs"

Q_QUEUE_MAX_PENDING=3 run_q add -- true
is "$rc" 0 "Q_QUEUE_MAX_PENDING=3 overrides the file"
Q_QUEUE_MAX_PENDING=3 run_q add -- true
is "$rc" 6 "Q_QUEUE_MAX_PENDING=3: fourth add exits 6"

run_q worker --once
run_q add -- true
is "$rc" 0 "max_pending 2: add works again once the jobs ran"

done_testing
