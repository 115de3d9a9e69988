#!/usr/bin/env bash
# Attempts, backoff, exit 75 and q retry.
. "$(dirname "$0")/lib.sh"

# A command failing until its counter file reaches $2.
counter='n=$(cat "$1" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"$1"; [ $n -ge "$2" ]'

# --- fails twice, then succeeds -------------------------------------------------

run_q add --attempts 3 --backoff 100ms -- sh -c "$counter" sh "$scratch/c1" 3
id=$out
is "$rc" 0 "add --attempts 3 --backoff 100ms"
RUN_Q_TIMEOUT=20 run_q worker
is "$rc" 0 "worker (until nothing is due) exits 0"
run_q result "$id"
is "$rc" 0 "the job completed"
is "$(cat c1)" 3 "the command ran 3 times"
run_q show --json "$id"
json=$out
is "$(jpy 'j["attempts"]' <<<"$json")" 3 "attempts 3"
is "$(jpy '[h["exit_code"] for h in j["history"]]' <<<"$json")" "[1, 1, 0]" "history: exit codes 1, 1, 0"
is "$(jpy '[h["attempt"] for h in j["history"]]' <<<"$json")" "[1, 2, 3]" "history: attempts 1, 2, 3"
waits=$(python3 -c '
import json, sys
from datetime import datetime
def t(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
h = json.load(sys.stdin)["history"]
print(" ".join(str(round((t(h[i+1]["started_at"]) - t(h[i]["finished_at"])) * 1000)) for i in range(len(h) - 1)))
' <<<"$json")
note "waits between attempts (ms): $waits"
read -r w1 w2 <<<"$waits"
[ "${w1:-0}" -ge 95 ]
ok $? "first wait >= 100 ms (backoff) ($w1)"
[ "${w2:-0}" -ge 195 ]
ok $? "second wait >= 200 ms (doubled) ($w2)"
[ "${w2:-0}" -gt "${w1:-0}" ]
ok $? "waits grow"
[ "${w2:-99999}" -lt 10000 ]
ok $? "second wait bounded by the backoff's cap, not minutes ($w2)"
run_q events "$id"
is "$(grep -c '"start"' <<<"$out")" 3 "events: 3 start events"
is "$(grep -c '"deferred"' <<<"$out")" 2 "events: 2 deferred events"
like "$out" '"reason": ?"retry"' "events: deferred for retry"

# --- attempts exhausted -----------------------------------------------------------

run_q add --attempts 2 --backoff 50ms -- sh -c 'echo attempt $Q_ATTEMPT; exit 7'
id=$out
RUN_Q_TIMEOUT=20 run_q worker
run_q result "$id"
is "$rc" 1 "attempts exhausted: result exits 1"
like "$out" "^$id failed exit 7" "attempts exhausted: failed exit 7"
run_q show --json "$id"
json=$out
is "$(jpy 'j["status"]' <<<"$json")" failed "status failed"
is "$(jpy 'j["attempts"]' <<<"$json")" 2 "attempts 2"
is "$(jpy 'j["error"]' <<<"$json")" nonzero_exit "error nonzero_exit"
is "$(jpy '[(h["attempt"], h["exit_code"]) for h in j["history"]]' <<<"$json")" "[[1, 7], [2, 7]]" \
	"history records both attempts"
run_q log "$id"
is "$out" "$(printf 'attempt 1\nattempt 2')" "log holds the output of all attempts"

# --- exit 75 does not count an attempt -----------------------------------------

tempfail='n=$(cat "$1" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"$1"; [ $n -ge 3 ] || exit 75'
run_q add --attempts 1 --backoff 50ms -- sh -c "$tempfail" sh "$scratch/c75"
id=$out
RUN_Q_TIMEOUT=20 run_q worker
run_q result "$id"
is "$rc" 0 "exit 75 twice with --attempts 1: the job still completed"
is "$(cat c75)" 3 "the command ran 3 times"
run_q events "$id"
like "$out" '"reason": ?"tempfail"' "events: deferred for tempfail"

# --- q retry ------------------------------------------------------------------------

run_q add -- sh -c 'test -e ok-now'
id=$out
run_q worker --once
run_q result "$id"
is "$rc" 1 "job failed"
touch ok-now
run_q retry "$id"
is "$rc" 0 "q retry of a failed job exits 0"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" pending "after retry: pending"
is "$(jpy 'j["attempts"]' <<<"$out")" 0 "after retry: attempts reset to 0"
is "$(jpy 'j["history"]' <<<"$out")" "[]" "after retry: history empty"
check "after retry: the file is in pending/" test -f "$Q_SPOOL/pending/5-$id"
run_q worker --once
run_q result "$id"
is "$rc" 0 "retried job completed"
run_q show --json "$id"
is "$(jpy 'j["attempts"]' <<<"$out")" 1 "retried job: attempts 1"
run_q retry "$id"
isnt "$rc" 0 "q retry of a completed job fails"
run_q retry zzzzzzzzzzzzzz
is "$rc" 4 "q retry of an unknown job exits 4"

# q add --sync stays for its job's retries (backoff, exit 75) and exits
# with the verdict.
run_q add --sync --attempts 2 --backoff 50ms -- sh -c 'echo try; exit 1'
is "$rc" 1 "add --sync: a job that fails twice exits 1 after its retry"
is "$(grep -c try <<<"$out")" 2 "add --sync: both attempts ran in the foreground"
run_q add --sync --backoff 50ms -- sh -c 'test -e again || { touch again; exit 75; }; echo ran'
is "$rc" 0 "add --sync: a job that exits 75 once completes"
like "$out" "ran" "add --sync: and prints the output of its second run"

run_q fsck
is "$rc" 0 "fsck clean"

done_testing
