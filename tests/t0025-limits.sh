#!/usr/bin/env bash
# Limits of spool-format.md, and secrets kept out of the spool.
. "$(dirname "$0")/lib.sh"

run_q add -- true
run_q worker --once

# check_refused DESC ARG...: add refused with exit 2 or 3, nothing written.
check_refused() {
	local desc=$1 before
	shift
	before=$(spool_listing)
	run_q add "$@"
	like "$rc" '^[23]$' "$desc: refused (exit 2 or 3, got $rc)"
	is "$out" "" "$desc: no id"
	is "$(printf '%s' "$err" | grep -c '')" 1 "$desc: one line on stderr"
	is "$(spool_listing)" "$before" "$desc: nothing written"
}

# Argument count 4096.
run_q add -- printf '%s\n' $(seq 4094)
is "$rc" 0 "4096 arguments are accepted"
check_refused "4097 arguments" -- printf '%s\n' $(seq 4095)

# Job file at most 1 MiB (one argument or variable is at most 128 KiB for
# execve, so several).
chunk=$(head -c 100000 /dev/zero | tr '\0' x)
args=()
for i in $(seq 11); do args+=("$chunk"); done
check_refused "11 arguments of 100 kB (job file over 1 MiB)" -- echo "${args[@]}"
big_env() {
	local i
	for i in $(seq 11); do export "BIGVAR_$i=$chunk"; done
	check_refused "11 variables of 100 kB (job file over 1 MiB)" -- true
	for i in $(seq 11); do unset "BIGVAR_$i"; done
}
big_env
args=()
for i in $(seq 9); do args+=("$chunk"); done
run_q add -- echo "${args[@]}"
is "$rc" 0 "9 arguments of 100 kB (a job file under 1 MiB) are accepted"
big_id=$out
run_q worker --once
run_q log "$big_id"
is "${#out}" $((9 * 100000 + 8)) "and the job runs with them"

# A job file of 1 MiB written by hand is read; one over 1 MiB is quarantined.
id=$(make_id)
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
pad=$(head -c 1100000 /dev/zero | tr '\0' y)
printf '{"version":1,"id":"%s","type":"exec","argv":["touch","%s/ran-big"],"cwd":"%s","created_at":"%s","pad":"%s"}\n' \
	"$id" "$scratch" "$scratch" "$now" "$pad" >"$Q_SPOOL/pending/5-$id"
chmod 0600 "$Q_SPOOL/pending/5-$id"
run_q worker --once
check "a job file over 1 MiB does not run" test ! -e ran-big
is "$(find "$Q_SPOOL/quarantine" -name "*$id" | wc -l)" 1 "a job file over 1 MiB is quarantined"

# Unknown fields are ignored.
id=$(make_id)
printf '{"version":1,"id":"%s","type":"exec","argv":["touch","%s/ran-unknown"],"cwd":"%s","created_at":"%s","from_the_future":{"x":[1,2]}}\n' \
	"$id" "$scratch" "$scratch" "$now" >"$Q_SPOOL/pending/5-$id"
chmod 0600 "$Q_SPOOL/pending/5-$id"
run_q worker --once
check "a hand-written job with an unknown field runs" test -e ran-unknown
run_q result "$id"
is "$rc" 0 "and completes"

# A minimal hand-written job (required fields only) runs with an empty
# environment.
id=$(make_id)
printf '{"version":1,"id":"%s","type":"exec","argv":["/bin/sh","-c","env > env.txt"],"cwd":"%s","created_at":"%s"}\n' \
	"$id" "$scratch" "$now" >"$Q_SPOOL/pending/5-$id"
chmod 0600 "$Q_SPOOL/pending/5-$id"
run_q worker --once
run_q result "$id"
is "$rc" 0 "a minimal hand-written job runs"
is "$(grep -v -E '^(Q_JOB_ID|Q_SPOOL|Q_ATTEMPT|Q_RESULT|Q_PROGRESS|PWD|SHLVL|_)=' env.txt)" "" \
	"a job without env runs with an empty environment (plus Q_*)"

# --- secrets -----------------------------------------------------------------------

export GITHUB_TOKEN=ghs_gh_secret_value_1 GH_TOKEN=ghp_gh_secret_value_2 MY_SECRET=my_secret_value_3
run_q add --secret-env MY_SECRET -- sh -c 'echo "my=${MY_SECRET-unset}"'
sid=$out
is "$(grep -r -l -E 'secret_value' "$Q_SPOOL" | head -3)" "" "no secret value anywhere in the spool after add"
check "secret_env names the variable" \
	test "$(jpy 'j.get("secret_env")' <"$(job_file "$sid")")" = '["MY_SECRET"]'
MY_SECRET=from_the_worker run_q worker --once
run_q log "$sid"
is "$out" "my=from_the_worker" "the worker supplies a --secret-env variable from its own environment"
unset MY_SECRET
run_q add --secret-env MY_SECRET -- sh -c 'echo "my=${MY_SECRET-unset}"'
sid=$out
run_q worker --once
run_q log "$sid"
is "$out" "my=unset" "a --secret-env variable the worker lacks is unset"
is "$(grep -r -l -E 'secret_value' "$Q_SPOOL" | head -3)" "" "no secret value anywhere in the spool"
unset GITHUB_TOKEN GH_TOKEN

run_q fsck
is "$rc" 0 "fsck clean"
[ "$rc" = 0 ] || diag "$out" "$err"

done_testing
