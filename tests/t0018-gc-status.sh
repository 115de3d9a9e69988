#!/usr/bin/env bash
# q status and q gc.
. "$(dirname "$0")/lib.sh"

run_q status
is "$rc" 0 "status of an empty spool exits 0"
is "$out" "0 pending, 0 running, 0 completed, 0 failed, 0 cancelled, 0 expired" "status of an empty spool"

run_q add -- sh -c 'echo out-ok'
ok_id=$out
run_q add -- sh -c 'echo out-fail; exit 1'
fail_id=$out
run_q add -- true
cancel_id=$out
run_q cancel "$cancel_id"
run_q worker --once
run_q add -- true
pend_id=$out
run_q add --in 1h -- true
def_id=$out

run_q status
is "$rc" 0 "status exits 0"
is "$(head -1 <<<"$out")" "2 pending, 0 running, 1 completed, 1 failed, 1 cancelled, 0 expired" \
	"status: a line with the counts"
like "$(sed -n 2p <<<"$out")" "^pending: 1 runnable, 1 deferred, 0 waiting, 0 held$" \
	"then the pending ones by state"
like "$(sed -n 3p <<<"$out")" "^next due in (59m5[0-9]s|1h00m) \\(.*Z\\); no worker is waiting" \
	"then when the next is due, and that no worker waits for it"
run_q status --json
is "$(jpy '[j[k] for k in ("pending", "running", "completed", "failed", "cancelled", "expired")]' <<<"$out")" \
	"[2, 0, 1, 1, 1, 0]" "status --json: an object with the counts"
is "$(jpy '[j["states"]["pending"], j["states"]["deferred"], j["waiter"]]' <<<"$out")" "[1, 1, false]" \
	"status --json: counts per state, no waiter"
like "$(jpy 'j["next_due"]' <<<"$out")" "^[0-9-]+T[0-9:.]+Z$" "status --json: next_due is a time"

# gc with a long retention removes nothing.
run_q gc --older-than 1h
is "$rc" 0 "gc --older-than 1h exits 0"
run_q show "$ok_id"
is "$rc" 0 "gc --older-than 1h keeps a fresh completed job"

sleep 1.1
run_q gc --older-than 0s
is "$rc" 0 "gc --older-than 0s exits 0"
for x in ok_id fail_id cancel_id; do
	id=${!x}
	run_q show "$id"
	is "$rc" 4 "gc removed the finished job ($x)"
	is "$(find "$Q_SPOOL" -name "*$id*" | head -3)" "" "no file of $x remains (job, log, events, key)"
done
run_q show "$pend_id"
is "$rc" 0 "the pending job stays"
run_q show "$def_id"
is "$rc" 0 "the deferred job stays"
run_q status
is "$(head -1 <<<"$out")" "2 pending, 0 running, 0 completed, 0 failed, 0 cancelled, 0 expired" \
	"status after gc"
run_q fsck
is "$rc" 0 "fsck clean after gc"

# The pending job still runs after gc.
run_q worker --once
run_q result "$pend_id"
is "$rc" 0 "the pending job completes after gc"

done_testing
