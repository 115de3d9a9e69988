#!/usr/bin/env bash
# --at, --in, --deadline: deferred/ with the due time as mtime, expiry.
. "$(dirname "$0")/lib.sh"

# run_at_ms ID: the job's run_at in ms since the epoch (from show --json).
run_at_ms() {
	q show --json "$1" | python3 -c '
import json, sys
from datetime import datetime, timezone
s = json.load(sys.stdin)["run_at"]
print(round(datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp() * 1000))'
}

# --- --in -------------------------------------------------------------------------

t0=$(now_ms)
run_q add --in 1h -- touch ran-in
id=$out
is "$rc" 0 "add --in 1h exits 0"
f="$Q_SPOOL/deferred/5-$id"
check "--in: the job is in deferred/5-ID" test -f "$f"
due=$(run_at_ms "$id")
d=$((due - t0 - 3600000))
[ "$d" -ge -50 ] && [ "$d" -le 10000 ]
ok $? "--in 1h: run_at is an hour from now (off by $d ms)"
mt=$(stat -c %Y "$f")
is "$mt" "$((due / 1000))" "the deferred file's mtime is run_at"
is "$(q show --json "$id" | jpy 'j["status"]')" pending "a deferred job is pending"
run_q worker --once
check "a job not yet due does not run" test ! -e ran-in
# (A worker would wait for it as the spool's waiter: out of the way.)
q cancel "$id" >/dev/null

# A deferred job runs once due.
run_q add --in 300ms -- touch ran-soon
soon=$out
run_q worker --once
check "worker --once does not wait for a job due in 300 ms" test ! -e ran-soon
RUN_Q_TIMEOUT=20 run_q worker
is "$rc" 0 "worker (default) waits for the job due next, then exits: nothing else is scheduled"
check "worker (default) waits for a job due in 300 ms and runs it" test -e ran-soon
run_q result "$soon"
is "$rc" 0 "the deferred job completed"
run_q events "$soon"
like "$out" '"event": ?"ready"' "events: ready on promotion"

# --- --at ---------------------------------------------------------------------------

now_s=$(date +%s)
at=$((now_s + 7200))
run_q add --at "@$at" -- true
id=$out
is "$rc" 0 "--at @UNIXSECONDS"
is "$(run_at_ms "$id")" "$((at * 1000))" "--at @SECONDS: run_at"
iso=$(date -u -d "@$at" +%Y-%m-%dT%H:%M:%SZ)
run_q add --at "$iso" -- true
is "$(run_at_ms "$out")" "$((at * 1000))" "--at RFC 3339 Z"
isooff=$(TZ=Etc/GMT-2 date -d "@$at" +%Y-%m-%dT%H:%M:%S+02:00)
run_q add --at "$isooff" -- true
is "$(run_at_ms "$out")" "$((at * 1000))" "--at RFC 3339 with an offset ($isooff)"
# HH:MM: the next occurrence, local time (TZ=UTC here).
hhmm=$(date -u -d "@$((now_s + 120))" +%H:%M)
run_q add --at "$hhmm" -- true
due=$(run_at_ms "$out")
want=$(( (now_s + 120) / 60 * 60 * 1000 ))
is "$due" "$want" "--at HH:MM: today at HH:MM when still ahead"
hhmm=$(date -u -d "@$((now_s - 120))" +%H:%M)
run_q add --at "$hhmm" -- true
due=$(run_at_ms "$out")
want=$(( ((now_s - 120) / 60 * 60 + 86400) * 1000 ))
is "$due" "$want" "--at HH:MM in the past: tomorrow"
run_q add --at 25:00 -- true
is "$rc" 2 "--at 25:00 is a usage error"
run_q add --at "@$((now_s - 10))" -- touch ran-past
past=$out
run_q worker --once
run_q result "$past"
is "$rc" 0 "--at a time in the past runs at once"

# The --at jobs above are due later: out of the waiting worker's way.
for f in "$Q_SPOOL"/deferred/*; do q cancel "${f##*-}" >/dev/null; done

# --- --deadline ---------------------------------------------------------------------

run_q add --in 1s --deadline 500ms -- touch ran-expired
exp=$out
is "$rc" 0 "add --deadline 500ms"
RUN_Q_TIMEOUT=20 run_q worker
is "$rc" 0 "the worker waits for it, finds it expired and exits"
check "a job past its deadline never runs" test ! -e ran-expired
run_q show --json "$exp"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["expired", "expired"]' "status expired, error expired"
check "the file is in expired/B/ID" test -f "$Q_SPOOL/expired/${exp:0:4}/$exp"
run_q result "$exp"
is "$rc" 1 "result of an expired job exits 1"
like "$out" "^$exp expired" "result says expired"

run_q add --deadline 1h -- touch ran-deadline
dl=$out
run_q worker --once
run_q result "$dl"
is "$rc" 0 "a job within its deadline runs"

# --- hold of a deferred job -----------------------------------------------------------

run_q add --in 1h -p 3 -- true
h=$out
run_q hold "$h"
is "$rc" 0 "hold of a deferred job"
check "deferred job held: held/ID" test -f "$Q_SPOOL/held/$h"
run_q release "$h"
check "released before its time: deferred/3-ID" test -f "$Q_SPOOL/deferred/3-$h"
is "$(stat -c %Y "$Q_SPOOL/deferred/3-$h")" "$(jpy 'j["run_at"]' < <(q show --json "$h") | python3 -c 'import sys,datetime; print(int(datetime.datetime.fromisoformat(sys.stdin.read().strip().replace("Z","+00:00")).timestamp()))')" \
	"released: the due time is run_at again"

run_q fsck
is "$rc" 0 "fsck clean"
[ "$rc" = 0 ] || diag "$out" "$err"

done_testing
