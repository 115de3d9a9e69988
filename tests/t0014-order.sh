#!/usr/bin/env bash
# Priority order, FIFO within a priority, --after.
. "$(dirname "$0")/lib.sh"

# add_named NAME [ADD-OPTIONS...]: a job that appends NAME to ./order.
add_named() {
	local name=$1
	shift
	run_q add "$@" -- sh -c 'echo "$1" >>"$2"' sh "$name" "$scratch/order"
	[ "$rc" = 0 ] || diag "add $name: rc=$rc $err"
	eval "id_$name=\$out"
}

# --- priorities -------------------------------------------------------------------

add_named low1 -p low
add_named norm1
add_named p9 -p 9
add_named high1 -p high
add_named norm2 -p normal
add_named p0 -p 0
add_named low2 -p 8
add_named norm3 -p 5
add_named high2 -p 2
check "-p high is stored as pending/2-ID" test -f "$Q_SPOOL/pending/2-$id_high1"
check "-p low is stored as pending/8-ID" test -f "$Q_SPOOL/pending/8-$id_low1"
check "-p 0 is stored as pending/0-ID" test -f "$Q_SPOOL/pending/0-$id_p0"
run_q worker --once -j 1
is "$rc" 0 "worker --once -j 1 exits 0"
is "$(tr '\n' ' ' <order)" "p0 high1 high2 norm1 norm2 norm3 low1 low2 p9 " \
	"priority order, FIFO within a priority"
is "$(q show --json "$id_high1" | jpy 'j["priority"]')" 2 "show --json priority of high is 2"

# --- --after ------------------------------------------------------------------------

rm -f order
add_named A
add_named B -p 0 --after "$id_A"
add_named C -p 1
check "B waits in waiting/ID" test -f "$Q_SPOOL/waiting/$id_B"
is "$(q show --json "$id_B" | jpy '[j["status"], j["after"]]')" "[\"pending\", [\"$id_A\"]]" \
	"B is pending, after A"
run_q worker --once -j 1
is "$(tr '\n' ' ' <order)" "C A B " "B --after A runs after A despite its priority"

# Several dependencies.
rm -f order
add_named D1
add_named D2
add_named E --after "$id_D1" --after "$id_D2" -p 0
is "$(q show --json "$id_E" | jpy 'sorted(j["after"])')" "$(jpy 'sorted(j)' <<<"[\"$id_D1\", \"$id_D2\"]")" \
	"two --after ids recorded"
run_q worker --once -j 1
is "$(tail -1 order)" E "E runs after both of its dependencies"

# --- a dependent of a failed job fails --------------------------------------------

rm -f order
run_q add -- false
f=$out
add_named dep --after "$f"
add_named depdep --after "$id_dep"
run_q worker --once -j 1
check "the dependent of a failed job never ran" test ! -e order
run_q show --json "$id_dep"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "dependency_failed"]' \
	"dependent of a failed job: failed, dependency_failed"
run_q show --json "$id_depdep"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "dependency_failed"]' \
	"dependent of a dependent: failed, dependency_failed"
run_q result "$id_dep"
is "$rc" 1 "result of the dependent exits 1"

# A dependent of a cancelled job fails too.
run_q add -- true
c=$out
add_named depc --after "$c"
run_q cancel "$c"
run_q worker --once -j 1
is "$(q show --json "$id_depc" | jpy '[j["status"], j["error"]]')" '["failed", "dependency_failed"]' \
	"dependent of a cancelled job: failed, dependency_failed"

# A dependent whose log already has a verdict (here: a retry of a cancelled
# dependent killed between its move back to waiting/ and its retry event)
# goes where that verdict says, not to failed/, when its dependency fails.
run_q add -- false
f=$out
add_named depv --after "$f"
run_q cancel "$id_depv"
is "$rc" 0 "cancel of a waiting dependent"
mv "$Q_SPOOL/cancelled/${id_depv:0:4}/$id_depv" "$Q_SPOOL/waiting/$id_depv"
run_q worker --once -j 1
check "a waiting job with a cancel in its log stays cancelled" \
	test -f "$Q_SPOOL/cancelled/${id_depv:0:4}/$id_depv"
is "$(q show --json "$id_depv" | jpy 'j["status"]')" cancelled "its status is cancelled"

# Likewise a held job past its deadline, expired by gc.
add_named heldv --hold --deadline 1s
run_q cancel "$id_heldv"
mv "$Q_SPOOL/cancelled/${id_heldv:0:4}/$id_heldv" "$Q_SPOOL/held/$id_heldv"
sleep 1.1
run_q gc
is "$(q show --json "$id_heldv" | jpy 'j["status"]')" cancelled \
	"a held job with a cancel in its log, past its deadline: cancelled, not expired"

run_q fsck
is "$rc" 0 "fsck clean"
[ "$rc" = 0 ] || diag "$out" "$err"

done_testing
