#!/usr/bin/env bash
# q hold / release, q pause / resume.
. "$(dirname "$0")/lib.sh"

# --- hold / release -----------------------------------------------------------

run_q add -- touch ran-held
id=$out
run_q hold "$id"
is "$rc" 0 "hold of a pending job exits 0"
check "the job is in held/ID" test -f "$Q_SPOOL/held/$id"
check "and not in pending/" test ! -e "$Q_SPOOL/pending/5-$id"
run_q show --json "$id"
is "$(jpy '[j["status"], j["held"]]' <<<"$out")" '["pending", true]' "held job: pending, held true"
run_q worker --once
check "a held job does not run" test ! -e ran-held
run_q release "$id"
is "$rc" 0 "release exits 0"
check "released job back in pending/5-ID" test -f "$Q_SPOOL/pending/5-$id"
is "$(q show --json "$id" | jpy 'j["held"]')" false "released: held false"
run_q worker --once
check "the released job runs" test -e ran-held
run_q hold "$id"
isnt "$rc" 0 "hold of a completed job fails"
run_q hold zzzzzzzzzzzzzz
is "$rc" 4 "hold of an unknown job exits 4"

# add --hold; a held deferred job keeps its priority when released.
run_q add --hold -p high -- touch ran-addhold
id=$out
check "add --hold puts the job in held/" test -f "$Q_SPOOL/held/$id"
run_q worker --once
check "add --hold: not run" test ! -e ran-addhold
run_q release "$id"
check "released into pending/2-ID (priority kept)" test -f "$Q_SPOOL/pending/2-$id"
run_q worker --once
check "add --hold then release: runs" test -e ran-addhold

# --- pause / resume -----------------------------------------------------------

run_q pause
is "$rc" 0 "pause exits 0"
check "the spool has a 'paused' file" test -f "$Q_SPOOL/paused"
run_q add -- touch ran-paused
is "$rc" 0 "add still works while paused"
id=$out
run_q worker --once
is "$rc" 0 "worker exits 0 while paused"
isnt "$err" "" "and says so on stderr"
check "nothing ran while paused" test ! -e ran-paused
run_q push
check "push runs nothing while paused" test ! -e ran-paused
run_q resume
is "$rc" 0 "resume exits 0"
check "no 'paused' file" test ! -e "$Q_SPOOL/paused"
run_q worker --once
check "after resume the job runs" test -e ran-paused
run_q result "$id"
is "$rc" 0 "and completes"

run_q fsck
is "$rc" 0 "fsck clean"

done_testing
