#!/usr/bin/env bash
# Results: a job's JSON result (Q_RESULT) stored beside its log and shown
# by result --json and show --json; oversized or malformed results are
# refused while the job still finishes.  Progress lives apart from the
# event log, so however much a job reports, its lifecycle stays readable.
. "$(dirname "$0")/lib.sh"

export PATH="$TOP/bin:$PATH"

# --- a result -----------------------------------------------------------------------

run_q add -- sh -c 'printf "{\"n\":42,\"s\":\"caf\\u00e9\"}" >"$Q_RESULT"; echo hi'
id=$out
run_q worker --once
run_q result --json "$id"
is "$rc" 0 "the job completed"
is "$(jpy 'j["result"]' <<<"$out")" '{"n": 42, "s": "caf\u00e9"}' "result --json shows the result"
r="$Q_SPOOL/logs/${id:0:4}/$id.result"
check "the result is stored as logs/B/ID.result" test -f "$r"
is "$(stat -c %a "$r")" 600 "with mode 0600"
run_q show --json "$id"
is "$(jpy 'j["result"]["n"]' <<<"$out")" 42 "show --json shows it too"
run_q events "$id"
like "$out" '"result":true' "the exit event says a result was left"
check "no staging file is left" test -z "$(ls "$Q_SPOOL/tmp")"

# A job without a result: null.
run_q add -- true
id=$out
run_q worker --once
run_q result --json "$id"
is "$(jpy 'j["result"]' <<<"$out")" null "no result: null"

# --- refused results: the job still finishes ---------------------------------------

run_q add -- sh -c 'head -c 70000 /dev/zero | tr "\0" a | sed "s/.*/\"&\"/" >"$Q_RESULT"'
id=$out
run_q worker --once
run_q result --json "$id"
is "$rc" 0 "a job whose result is too large still completes"
is "$(jpy 'j["result"]' <<<"$out")" null "the oversized result is not stored"
run_q log "$id"
like "$out" 'q: result refused: larger than 65536 bytes' "the job's log says why"
run_q events "$id"
like "$out" '"result_error":"larger than 65536 bytes' "the exit event records the refusal"

run_q add -- sh -c 'echo "{not json" >"$Q_RESULT"; exit 3'
id=$out
run_q worker --once
run_q result --json "$id"
is "$rc" 1 "a failing job with a malformed result fails as its exit says"
is "$(jpy '[j["result"], j["exit_code"]]' <<<"$out")" '[null, 3]' "no result, exit 3"
run_q log "$id"
like "$out" 'q: result refused: not JSON' "the log says the result was not JSON"

# A result describes the attempt that left it: a retry without one shows none.
run_q add --attempts 2 --backoff 1ms -- sh -c '
	if [ "$Q_ATTEMPT" = 1 ]; then echo "{\"attempt\":1}" >"$Q_RESULT"; exit 1; fi'
id=$out
run_q worker
run_q result --json "$id"
is "$(jpy '[j["status"], j["attempts"], j["result"]]' <<<"$out")" '["completed", 2, null]' \
	"the first attempt's result is gone once the second runs"

# --- progress floods ----------------------------------------------------------------

# 20 MB of progress straight to Q_PROGRESS, attempts 3: one run, completed.
run_q add --attempts 3 -- sh -c '
	echo run >>"$0"
	line="{\"at\":\"2026-12-01T00:00:00.000Z\",\"pct\":7,\"message\":\"$(head -c 900 /dev/zero | tr "\0" x)\"}"
	yes "$line" | head -n 21600 >>"$Q_PROGRESS"
	echo "{\"at\":\"2026-12-01T00:00:01.000Z\",\"pct\":99,\"message\":\"last\"}" >>"$Q_PROGRESS"' \
	"$scratch/flood.runs"
id=$out
run_q worker --once
run_q result "$id"
is "$rc" 0 "a job that writes 20 MB of progress completes"
is "$(wc -l <flood.runs)" 1 "it ran exactly once"
run_q show --json "$id"
is "$(jpy '[j["attempts"], j["progress"]["pct"], j["progress"]["message"]]' <<<"$out")" \
	'[1, 99, "last"]' "one attempt; show reads the last report"
run_q events "$id"
like "$out" '"event":"completed"' "the event log reads to its end"
[ "$(wc -c <"$Q_SPOOL/logs/${id:0:4}/$id.events")" -lt 4096 ]
ok $? "and small: progress never reaches it"

# Through q progress: the file starts over past 64 KiB.
run_q add -- sh -c 'm=$(head -c 900 /dev/zero | tr "\0" y); i=0
	while [ $i -lt 150 ]; do q progress $((i % 100)) "$m" || exit 9; i=$((i + 1)); done
	q progress 100 finished'
id=$out
run_q worker --once
run_q result "$id"
is "$rc" 0 "150 progress reports of 900 bytes each"
size=$(wc -c <"$Q_SPOOL/logs/${id:0:4}/$id.progress")
[ "$size" -le $((64 * 1024 + 1024)) ]
ok $? "the progress file stays bounded ($size bytes)"
run_q show --json "$id"
is "$(jpy '[j["progress"]["pct"], j["progress"]["message"]]' <<<"$out")" '[100, "finished"]' \
	"the last report wins"

# A stray Q_JOB_ID (no such running job) leaves nothing behind.
before=$(find "$Q_SPOOL/logs" -type f | wc -l)
Q_JOB_ID=$id run_q progress 5 late
is "$rc" 1 "q progress for a job that is not running fails"
like "$err" "job $id is not running" "and says so"
Q_JOB_ID=$(make_id) run_q progress 5 stray
is "$rc" 4 "q progress for an unknown job exits 4"
is "$(find "$Q_SPOOL/logs" -type f | wc -l)" "$before" "no file was created"

# --- an event log over its cap is an error, not a loop -----------------------------

run_q add --hold -- true
id=$out
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' '\n' >>"$Q_SPOOL/logs/${id:0:4}/$id.events"
chmod 600 "$Q_SPOOL/logs/${id:0:4}/$id.events"
run_q release "$id"
run_q show "$id"
is "$rc" 3 "show of a job whose event log is over 8 MiB fails"
like "$err" "event log of job '$id' is larger than 8 MiB" "and says why"
run_q worker --once
check "the worker quarantines it instead of running it" \
	test -f "$Q_SPOOL/quarantine/pending.5-$id"
like "$(cat "$Q_SPOOL/quarantine/pending.5-$id.reason")" "event log is larger than 8 MiB" \
	"the reason names the event log"

done_testing
