#!/usr/bin/env bash
# worker --watch: idle without spinning, picks up new jobs promptly.
. "$(dirname "$0")/lib.sh"

cpu_ticks() {
	# utime + stime, fields 14 and 15 of /proc/PID/stat (after the comm).
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

run_q add --in 1h -- touch early
deferred=$out
check "--in 1h: the job is in deferred/" test -f "$Q_SPOOL/deferred/5-$deferred"

export Q_WORKER_IDLE=3s
q_bg w worker --watch
w=$bg_pid
sleep 0.3
check "the watching worker is running" alive "$w"
c0=$(cpu_ticks "$w")
sleep 1
c1=$(cpu_ticks "$w")
note "CPU ticks over 1 s: $((c1 - c0))"
[ $((c1 - c0)) -le 5 ]
ok $? "an idle watching worker uses almost no CPU ($((c1 - c0)) ticks/s)"
check "the deferred job did not run" test ! -e early

t0=$(now_ms)
run_q add -- touch prompt
id=$out
check "a job added meanwhile runs promptly" wait_for 'test -e prompt' 10
t1=$(now_ms)
note "picked up after $((t1 - t0)) ms"
check "and completes" wait_for "q result $id" 2

# Exits after worker.idle without work.
check "the worker exits after worker.idle" wait_for "! alive $w" 6
wait "$w"
is "$?" 0 "the watching worker exits 0"
check "the deferred job is still deferred" test -f "$Q_SPOOL/deferred/5-$deferred"

done_testing
