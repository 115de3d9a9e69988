#!/usr/bin/env bash
# q push: run the queue in the foreground and report.
. "$(dirname "$0")/lib.sh"

run_q push
is "$rc" 0 "push of an empty queue exits 0"
is "$(tail -1 <<<"$out")" "0 completed, 0 failed" "push of an empty queue: summary"

run_q add -- true
a=$out
run_q add -- sh -c 'echo oops; exit 3'
b=$out
run_q add -- echo hi
c=$out
run_q push
is "$rc" 1 "push with a failing job exits 1"
lines=$(grep -c -E '^(ok|FAIL) +[0-9a-z]{14} ' <<<"$out")
is "$lines" 3 "push prints one line per job"
like "$out" "(^|
)ok +$a " "ok line for the first job"
like "$out" "(^|
)FAIL +$b .*exit 3" "FAIL line with exit 3 for the failing job"
like "$out" "(^|
)ok +$c " "ok line for the third job"
is "$(tail -1 <<<"$out")" "2 completed, 1 failed" "summary line"
run_q result "$b"
is "$rc" 1 "the failing job is failed"
run_q result "$c"
is "$rc" 0 "the third job completed"

run_q add -- true
d=$out
run_q push
is "$rc" 0 "push of succeeding jobs exits 0"
like "$out" "(^|
)ok +$d " "ok line"
is "$(tail -1 <<<"$out")" "1 completed, 0 failed" "summary 1 completed"

# Jobs not yet due are not run.
run_q add --in 1h -- true
run_q push
is "$(tail -1 <<<"$out")" "0 completed, 0 failed" "push does not run a deferred job"

done_testing
