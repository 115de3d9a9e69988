#!/usr/bin/env bash
# Job types: a job this q cannot run stays pending for the q that can
# (never quarantined), and helper jobs follow the contract of
# spool-format.md ("Helpers"): argv, standard input, environment,
# progress, result, and a temporary failure with retry_after.
. "$(dirname "$0")/lib.sh"

OLDQ=$TOP/tests/q-exec-only
[ -x "$OLDQ" ] || bail_out "$OLDQ is not built (make tests/q-exec-only)"
export PATH="$TOP/bin:$PATH"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)

# write_job P ID TYPE BODY: a job file as another q would write it.
write_job() {
	printf '{"version":%s,"id":"%s","type":"%s",%s"cwd":"%s","created_at":"%s"}\n' \
		"${VERSION:-1}" "$2" "$3" "$4" "$scratch" "$now" >"$Q_SPOOL/pending/$1-$2"
	chmod 0600 "$Q_SPOOL/pending/$1-$2"
}

run_q add -- true
run_q worker --once

# --- a type this q does not know -------------------------------------------------

frob=$(make_id)
write_job 5 "$frob" frob '"args":{"x":1},'
v2=$(make_id)
VERSION=2 write_job 5 "$v2" exec '"argv":["true"],"new_field":{"a":[1]},'
run_q worker --once
is "$rc" 0 "worker --once exits 0 beside jobs it cannot run"
check "the unknown type stays in pending/" test -f "$Q_SPOOL/pending/5-$frob"
check "the newer version stays in pending/" test -f "$Q_SPOOL/pending/5-$v2"
is "$(ls "$Q_SPOOL/quarantine" | wc -l)" 0 "nothing was quarantined"
like "$(cat "$Q_SPOOL/spool.log")" "leaving job $frob pending: job type 'frob' is unknown to this q" \
	"spool.log says why the unknown type was left"
like "$(cat "$Q_SPOOL/spool.log")" "job file version 2 is newer than this q" \
	"spool.log says why the newer version was left"
run_q list
like "$out" "$frob +pending .*frob job \\(a type this q does not know\\)" "list describes the unknown type"
like "$out" "$v2 +pending .*exec job \\(version 2, for a newer q\\)" "list describes the newer version"
run_q show --json "$frob"
is "$(jpy '[j["type"], j["status"], j["args"]]' <<<"$out")" '["frob", "pending", {"x": 1}]' \
	"show --json: type, status and args of the unknown type"
run_q fsck
is "$rc" 0 "fsck: a job of another q is not a problem"
[ "$rc" = 0 ] || diag "$out$err"
run_q cancel "$frob"
is "$rc" 0 "a job of an unknown type can still be cancelled"

# --- an older q leaves a git job to the q that knows git ----------------------------

mkdir libexec
cat >libexec/q-git <<'HELPER'
#!/bin/sh
# A stand-in for q-git: records what it was given, reports, leaves a result.
args=$(cat)
{
	echo "argc=$#"
	echo "arg1=$1"
	echo "args=$args"
	echo "cwd=$(pwd)"
	env | grep -E '^Q_(JOB_ID|SPOOL|ATTEMPT|RESULT|PROGRESS)=' | sort
	echo "GH_TOKEN=${GH_TOKEN-unset}"
} >"$HELPER_OUT"
q progress 40 receiving objects || exit 3
case $args in
*/srv/tempfail*)
	echo "rate limited" >&2
	printf '{"retry_after":3600,"reason":"rate limit"}' >"$Q_RESULT"
	exit 75 ;;
esac
printf '{"head":"abc123","refs":[]}' >"$Q_RESULT"
echo "done"
HELPER
chmod +x libexec/q-git
export HELPER_OUT=$scratch/helper.txt

env='"env":{"PATH":"'$PATH'","HELPER_OUT":"'$HELPER_OUT'"},'
g=()
for i in 1 2 3; do
	id=$(make_id)
	write_job 5 "$id" git '"args":{"op":"fetch","repo":"/srv/r'$i'"},'"$env"
	g+=("$id")
done
: >"$Q_SPOOL/spool.log"
Q_BIN=$OLDQ run_q worker --once
is "$rc" 0 "an older q's worker exits 0"
n=0
for id in "${g[@]}"; do
	[ -f "$Q_SPOOL/pending/5-$id" ] && n=$((n + 1))
done
is "$n" 3 "the older q left all three git jobs pending"
is "$(grep -c "job type 'git' is unknown to this q" "$Q_SPOOL/spool.log")" 1 \
	"and noted it once in spool.log"
check "no helper ran" test ! -e "$HELPER_OUT"

# bin/q knows git but finds no helper: the jobs wait too.
: >"$Q_SPOOL/spool.log"
Q_EXEC_PATH=$scratch/empty run_q worker --once
is "$rc" 0 "a worker without the helper exits 0"
check "a git job waits while its helper is missing" test -f "$Q_SPOOL/pending/5-${g[0]}"
like "$(cat "$Q_SPOOL/spool.log")" "no helper '$scratch/empty/q-git' for 'git' jobs" \
	"spool.log names the missing helper"

# With the helper, bin/q runs them.
GH_TOKEN=from-the-worker Q_EXEC_PATH=$scratch/libexec run_q worker --once
is "$rc" 0 "a worker with the helper exits 0"
for id in "${g[@]}"; do
	run_q result "$id"
	is "$rc" 0 "git job $id completed once a q that knows git ran"
done

# What the helper was given (the last job it ran).
last=${g[2]}
h=$(cat "$HELPER_OUT")
like "$h" "argc=1" "the helper gets one argument"
like "$h" "arg1=$last" "the argument is the job id"
like "$h" 'args=\{"op":"fetch","repo":"/srv/r3"\}' "standard input is the job's args"
like "$h" "cwd=$scratch" "it runs in the job's cwd"
like "$h" "Q_JOB_ID=$last" "Q_JOB_ID"
like "$h" "Q_SPOOL=$Q_SPOOL" "Q_SPOOL"
like "$h" "Q_ATTEMPT=1" "Q_ATTEMPT"
like "$h" "Q_RESULT=$Q_SPOOL/tmp/$last.result" "Q_RESULT names its staging file"
like "$h" "Q_PROGRESS=$Q_SPOOL/logs/${last:0:4}/$last.progress" "Q_PROGRESS names its progress file"
like "$h" "GH_TOKEN=from-the-worker" "secrets come from the worker's environment"
run_q show --json "$last"
is "$(jpy '[j["result"], j["progress"]["pct"], j["progress"]["message"]]' <<<"$out")" \
	'[{"head": "abc123", "refs": []}, 40, "receiving objects"]' "result and progress of a helper job"
run_q log "$last"
is "$out" "done" "the helper's output is the job's log"
run_q list
like "$out" "${g[0]} +completed .*git fetch" "list describes a git job"
check "no staging file is left in tmp/" test -z "$(ls "$Q_SPOOL/tmp")"
grep -rq from-the-worker "$Q_SPOOL"
isnt "$?" 0 "the token is nowhere in the spool"

# A temporary failure with retry_after: deferred until then, not by backoff.
t=$(make_id)
write_job 5 "$t" git '"args":{"op":"fetch","repo":"/srv/tempfail"},"backoff_ms":1000,'"$env"
before=$(now_ms)
Q_EXEC_PATH=$scratch/libexec run_q worker --once
run_q show --json "$t"
is "$(jpy '[j["state"], j["attempts"], j["history"][0]["error"]]' <<<"$out")" '["deferred", 0, "tempfail"]' \
	"exit 75 defers the job and costs no attempt"
due=$(jpy 'j["run_at"]' <<<"$out")
due_ms=$(($(date -d "$due" +%s%3N)))
d=$((due_ms - before))
[ "$d" -ge 3590000 ] && [ "$d" -le 3610000 ]
ok $? "retry_after 3600 defers it an hour, not by the 1 s backoff (${d} ms)"
run_q events "$t"
like "$out" '"reason":"tempfail"' "the deferral says tempfail"

# Lease jobs are not for workers; an exec job's argv is required.
bad=$(make_id)
write_job 5 "$bad" git '"args":{"op":"clone","url":"x","dir":"relative"},'
run_q worker --once
check "a git job with bad args is quarantined" test -f "$Q_SPOOL/quarantine/pending.5-$bad"
like "$(cat "$Q_SPOOL/quarantine/pending.5-$bad.reason")" "args: 'dir' is not an absolute path" \
	"the reason names the bad field"

done_testing
