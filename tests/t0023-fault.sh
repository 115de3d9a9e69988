#!/usr/bin/env bash
# Q_FAULT: a failing system call never loses or duplicates a job.
. "$(dirname "$0")/lib.sh"

run_q add -- true
is "$rc" 0 "a first job (creates the spool)"
run_q worker --once

# --- add: a fault anywhere is an error, and nothing is published ---------------

for op in open write fsync link; do
	for n in 1 2; do
		before=$(q list --json | jpy 'len(j)')
		Q_FAULT=$op:$n run_q add -- touch "ran-$op-$n"
		if [ "$rc" = 0 ]; then
			# The fault hit a call the add does not depend on: the job
			# must then be complete and runnable.
			is "$(q list --json | jpy 'len(j)')" "$((before + 1))" "add with $op:$n succeeded: one job more"
			continue
		fi
		is "$rc" 3 "add with Q_FAULT=$op:$n: exit 3"
		like "$err" '^q: [^
]*(No space left on device|Input/output error)' "add with Q_FAULT=$op:$n: one 'q:' line with the error"
		is "$out" "" "add with Q_FAULT=$op:$n: no id printed"
		is "$(q list --json | jpy 'len(j)')" "$before" "add with Q_FAULT=$op:$n: no job added"
	done
done
Q_FAULT=fsync:1:EIO run_q add -- true
is "$rc" 3 "Q_FAULT=fsync:1:EIO: exit 3"
like "$err" 'Input/output error' "Q_FAULT=fsync:1:EIO: says EIO"
run_q fsck
is "$rc" 0 "fsck clean after failed adds"
[ "$rc" = 0 ] || diag "$out" "$err"
is "$(find "$Q_SPOOL/tmp" -mindepth 1 | wc -l)" 0 "tmp/ is empty"

# --- worker: a fault while running a job never loses it --------------------------

run_q worker --once
ran_before=$(ls ran-* 2>/dev/null | wc -l)
for op in rename write fsync open link unlink; do
	for n in 1 2 3 5; do
		run_q add -- sh -c 'echo x >>"$1"' sh "$scratch/w-$op-$n"
		id=$out
		Q_FAULT=$op:$n run_q worker --once
		note "worker with $op:$n: rc=$rc ${err:0:200}"
		run_q worker --once
		is "$rc" 0 "after a worker with Q_FAULT=$op:$n, a clean worker exits 0"
		run_q result "$id"
		st=$rc
		runs=$(wc -l <"w-$op-$n" 2>/dev/null || echo 0)
		if [ "$st" = 0 ]; then
			is "$runs" 1 "Q_FAULT=$op:$n: job completed, ran exactly once"
		else
			run_q show --json "$id"
			is "$(jpy 'j["status"]' <<<"$out")" failed "Q_FAULT=$op:$n: job not completed is failed (not lost)"
			[ "$runs" -le 1 ]
			ok $? "Q_FAULT=$op:$n: ran at most once ($runs)"
		fi
		run_q fsck
		is "$rc" 0 "Q_FAULT=$op:$n: fsck clean afterwards"
		[ "$rc" = 0 ] || diag "$out" "$err"
	done
done

# A malformed Q_FAULT is ignored with a warning, not fatal.
Q_FAULT=bogus run_q add -- true
is "$rc" 0 "a malformed Q_FAULT does not break q"

done_testing
