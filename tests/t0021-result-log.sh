#!/usr/bin/env bash
# result --wait, log -f, events -f, add --json, list --state, the event log.
. "$(dirname "$0")/lib.sh"

# --- add --json -----------------------------------------------------------------

run_q add --json -- true
is "$rc" 0 "add --json exits 0"
is "$(jpy 'sorted(j.keys())' <<<"$out")" '["duplicate", "id"]' "add --json: {id, duplicate}"
is "$(jpy 'j["duplicate"]' <<<"$out")" false "add --json: duplicate false"
first=$(jpy 'j["id"]' <<<"$out")
check "add --json: the id names a job" test -f "$Q_SPOOL/pending/5-$first"

# --- result --wait ----------------------------------------------------------------

run_q add -- sh -c 'while [ ! -e go ]; do sleep 0.05; done; echo went'
id=$out
t0=$(now_ms)
run_q result --wait --timeout 300ms "$id"
t1=$(now_ms)
is "$rc" 5 "result --wait --timeout on a pending job that does not finish: exit 5"
[ $((t1 - t0)) -ge 290 ] && [ $((t1 - t0)) -lt 20000 ]
ok $? "result --wait --timeout 300ms waited at least 300 ms, and stopped ($((t1 - t0)) ms)"

q_bg w worker --once
w=$bg_pid
q_bg r result --wait "$id"
r=$bg_pid
q_bg lf log -f "$id"
lf=$bg_pid
q_bg ef events -f "$id"
ef=$bg_pid
sleep 0.3
check "result --wait is still waiting while the job runs" alive "$r"
check "log -f is still following while the job runs" alive "$lf"
touch go
wait_for "! alive $r" 5
wait "$r"
is "$?" 0 "result --wait returns 0 when the job completes"
like "$(cat r.out)" "^$id completed" "result --wait prints the result line"
wait_for "! alive $lf" 5
wait "$lf"
is "$?" 0 "log -f exits 0 when the job ends"
is "$(cat lf.out)" went "log -f printed the output"
wait_for "! alive $ef" 5
wait "$ef"
is "$?" 0 "events -f exits 0 when the job ends"
like "$(tail -1 ef.out)" '"event": ?"completed"' "events -f ends with the final event"
wait "$w"

run_q result --wait "$id"
is "$rc" 0 "result --wait of a finished job returns at once"

# --- list --state ------------------------------------------------------------------

run_q add -- false
fid=$out
run_q worker --once
run_q add -- true
pid_=$out
for st in pending completed failed; do
	run_q list --state "$st" --json
	is "$rc" 0 "list --state $st exits 0"
	bad=$(jpy "[x['id'] for x in j if x['status'] != '$st']" <<<"$out")
	is "$bad" "[]" "list --state $st shows only $st jobs"
done
is "$(q list --state failed --json | jpy '[x["id"] for x in j]')" "[\"$fid\"]" "list --state failed"
is "$(q list --state pending --json | jpy '[x["id"] for x in j]')" "[\"$pid_\"]" "list --state pending"
is "$(q list --state running --json)" "[]" "list --state running of none: []"

# --- the event log ------------------------------------------------------------------

# Every line of every event log is a JSON object with at and event, and the
# fields of spool-format.md.
python3 - "$Q_SPOOL" <<'EOF' >events.check 2>&1
import glob, json, re, sys
t = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
need = {"start": ["attempt", "pid"],
        "exit": ["attempt", "exit_code", "signal", "error", "output_size"],
        "progress": ["pct", "message"], "deferred": ["until", "reason"],
        "requeued": ["reason"], "ready": [], "held": [], "released": [],
        "retry": [], "completed": [], "failed": ["error"], "cancelled": [],
        "expired": []}
files = glob.glob(sys.argv[1] + "/logs/*/*.events")
assert files, "no event logs"
for f in files:
    for n, line in enumerate(open(f, "rb"), 1):
        assert line.endswith(b"\n"), "%s:%d: no newline" % (f, n)
        assert len(line) <= 4096, "%s:%d: longer than 4 KiB" % (f, n)
        e = json.loads(line)
        assert isinstance(e, dict), "%s:%d: not an object" % (f, n)
        assert t.match(e.get("at", "")), "%s:%d: bad at %r" % (f, n, e.get("at"))
        ev = e.get("event")
        assert ev in need, "%s:%d: unknown event %r" % (f, n, ev)
        for k in need[ev]:
            assert k in e, "%s:%d: %s without %s" % (f, n, ev, k)
        if ev == "start":
            assert isinstance(e["pid"], int) and e["pid"] > 1, "%s:%d: pid %r" % (f, n, e["pid"])
print("checked", len(files))
EOF
ok $? "every event line has at, event and the fields of spool-format.md" || diag "$(cat events.check)"
events=$(cat "$Q_SPOOL/logs/${id:0:4}/$id.events")
is "$(python3 -c '
import json, sys
print(" ".join(json.loads(l)["event"] for l in sys.stdin))' <<<"$events")" "start exit completed" \
	"a simple job's events: start exit completed"
run_q events "$id"
is "$out" "$events" "q events prints the event log as stored"

# The start event names the supervisor: its pid (the command's parent)
# and its start time, which q cancel checks before it signals.
run_q add -- sh -c 'read -r l </proc/$PPID/stat; set -- ${l##*) }; echo $PPID ${20}'
gid=$out
run_q worker --once
run_q log "$gid"
sup=$out
run_q events "$gid"
is "$(grep '"start"' <<<"$out" | jpy '"%d %d" % (j["pid"], j["pid_start"])')" "$sup" \
	"start.pid and start.pid_start name the command's supervisor"

done_testing
