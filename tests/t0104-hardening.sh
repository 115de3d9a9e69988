#!/usr/bin/env bash
# Hardening: planted files never run, settings nobody else may write,
# cancel that cannot kill strangers, no job running twice, events that
# survive torn writes, locks a stopped process cannot wedge, secrets not
# kept.  Each section is one numbered defect of the hardening issue.
. "$(dirname "$0")/lib.sh"

export PATH="$TOP/bin:$PATH"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
have_strace=$(command -v strace)
uid=$(id -u)

# A job file written by hand: plant P ID DIR BODY (mode left to the caller).
plant() {
	printf '{"version":1,"id":"%s","type":"exec","argv":%s,"cwd":"%s","created_at":"%s"}\n' \
		"$2" "$4" "$scratch" "$now" >"$3/$1"
}

# --- 1. a spool committed to a repository is never run ----------------------------

mkdir repo
git -C repo init -q
(cd repo && Q_SPOOL= run_q add --manual -- touch "$scratch/pwned" && echo "$out" >../planted.id)
git -C repo add -f .idlergear >/dev/null 2>&1
git -C repo commit -q -m "spool" >/dev/null 2>&1
git clone -q repo clone 2>/dev/null
check "the clone has the planted job" test -n "$(ls clone/.idlergear/spool/pending/)"
# The SessionStart hook's command, as contrib/claude-code/settings.json runs it.
hook=$(sed -n 's/.*"command": "\(.*\)"$/\1/p' "$TOP/contrib/claude-code/settings.json" | head -1)
hook=${hook//\\\"/\"}
(cd clone && Q_SPOOL= CLAUDE_PROJECT_DIR=$scratch/clone PATH="$TOP/bin:$PATH" bash -c "$hook")
cd clone
Q_SPOOL= run_q worker --once
cd "$scratch"
sleep_until_quiet() { ! pgrep -f "q -C $scratch/clone" >/dev/null; }
wait_for sleep_until_quiet 5
check "the hook's worker did not run the cloned job" test ! -e pwned
is "$rc" 3 "a worker refuses a checked-out spool"
like "$err" "refusing .*mode 7[0-7][0-7], want 700" "and says why (the mode)"

# A job file others can read or write (0644) in a proper spool: quarantined, never run.
run_q add -- true
run_q worker --once
id=$(make_id)
plant "5-$id" "$id" "$Q_SPOOL/pending" '["touch","'"$scratch"'/pwned2"]'
chmod 0644 "$Q_SPOOL/pending/5-$id"
run_q worker --once
check "a 0644 job file does not run" test ! -e pwned2
check "it is quarantined" test -f "$Q_SPOOL/quarantine/pending.5-$id"
like "$(cat "$Q_SPOOL/quarantine/pending.5-$id.reason")" "mode 644: others can access it" \
	"with the mode as the reason"
if [ "$uid" = 0 ]; then
	id=$(make_id)
	plant "5-$id" "$id" "$Q_SPOOL/pending" '["touch","'"$scratch"'/pwned3"]'
	chmod 0600 "$Q_SPOOL/pending/5-$id"
	chown 12345 "$Q_SPOOL/pending/5-$id"
	run_q worker --once
	check "another user's job file does not run" test ! -e pwned3
	like "$(cat "$Q_SPOOL/quarantine/pending.5-$id.reason" 2>/dev/null)" "owned by uid 12345" \
		"it is quarantined as another user's"
	mkdir -p other/spool/pending
	chmod 0711 other other/spool
	chmod 0777 other/spool/pending
	Q_SPOOL=$scratch/other/spool run_q worker --once
	is "$rc" 3 "a spool with a world-writable pending/ is refused"
else
	skip 3 "not root: cannot plant another user's file"
fi

# --- 2. q.conf is trusted only if it is ours and nobody else can write it -----------

mkdir -p shared
chmod 0777 shared
printf '[job]\n\ttimeout = 1ms\n[gc]\n\tcompleted = 0\n' >shared/q.conf
chmod 0666 shared/q.conf
Q_SPOOL=$scratch/shared/spool run_q add -- sh -c 'sleep 0.2'
sid=$out
like "$err" "ignoring '$scratch/shared/q.conf': writable by group or others" \
	"a q.conf others can write is ignored, with a warning"
Q_SPOOL=$scratch/shared/spool run_q worker --once
Q_SPOOL=$scratch/shared/spool run_q result "$sid"
is "$rc" 0 "its timeout = 1ms did not apply"
rm -f shared/q.conf
mkfifo shared/q.conf
Q_SPOOL=$scratch/shared/spool RUN_Q_TIMEOUT=10 run_q status
isnt "$rc" 124 "a FIFO as q.conf does not hang q"
like "$err" "ignoring '$scratch/shared/q.conf': not a regular file" "and is named"
rm -f shared/q.conf
printf '\xef\xbb\xbf[job]\n\tattempts = 4\n' >"$(dirname "$Q_SPOOL")/q.conf"
chmod 0600 "$(dirname "$Q_SPOOL")/q.conf"
run_q add -- true
is "$(q show --json "$out" | jpy 'j["max_attempts"]')" 4 "a q.conf that starts with a UTF-8 BOM reads"
rm -f "$(dirname "$Q_SPOOL")/q.conf"

# --- 3. cancel never signals a process it cannot prove is the job's ----------------

# A job left in running/ by a dead worker; its start event names a pid now
# used by an unrelated process group leader.
setsid sleep 60 &
stranger=$!
wait_for "alive $stranger" 2
read -r -a st </proc/$stranger/stat
id=$(make_id)
plant "$id" "$id" "$Q_SPOOL/running" '["true"]'
chmod 0600 "$Q_SPOOL/running/$id"
mkdir -p "$Q_SPOOL/logs/${id:0:4}"
printf '{"at":"%s","event":"start","attempt":1,"pid":%s}\n' "$now" "$stranger" \
	>"$Q_SPOOL/logs/${id:0:4}/$id.events"
chmod 0600 "$Q_SPOOL/logs/${id:0:4}/$id.events"
run_q cancel "$id"
is "$rc" 0 "cancel of a job whose worker died exits 0"
check "the process that reuses the recorded pid is alive" alive "$stranger"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" cancelled "the job is cancelled without a signal"

# The lock is held (a live worker) but the start time does not match.
id=$(make_id)
plant "$id" "$id" "$Q_SPOOL/running" '["true"]'
chmod 0600 "$Q_SPOOL/running/$id"
printf '{"at":"%s","event":"start","attempt":1,"pid":%s,"pid_start":%s}\n' "$now" "$stranger" \
	"$((st[21] + 1))" >"$Q_SPOOL/logs/${id:0:4}/$id.events"
chmod 0600 "$Q_SPOOL/logs/${id:0:4}/$id.events"
# This shell holds the job's lock, as a live worker would.
exec {lk}<"$Q_SPOOL/running/$id"
flock -n "$lk"
run_q cancel "$id"
check "a pid whose start time differs is not signalled" alive "$stranger"
exec {lk}<&-
kill "$stranger" 2>/dev/null

# --- 4. nothing of an attempt outlives it ---------------------------------------

# Attempt 1 times out, leaving a setsid child; attempt 2 checks that it is gone.
run_q add --timeout 500ms --retry-timeout --attempts 2 --backoff 1ms -- sh -c '
	if [ "$Q_ATTEMPT" = 1 ]; then
		setsid sh -c "echo \$\$ >escaped.pid; exec sleep 60" &
		sleep 60
	fi
	p=$(cat escaped.pid); if kill -0 "$p" 2>/dev/null; then echo alive; else echo dead; fi >seen'
id=$out
Q_JOB_KILL_GRACE=200ms run_q worker
is "$(cat seen 2>/dev/null)" dead "a setsid child of a timed-out attempt is dead before the retry starts"
check "and is gone now" test -s escaped.pid -a ! -d "/proc/$(cat escaped.pid 2>/dev/null)"

# Killing the supervisor: the command and what it started die too; the worker goes on.
run_q add -- sh -c 'setsid sleep 60 & echo $! >grand.pid; echo $$ >cmd.pid; sleep 60'
victim=$out
run_q add -- sh -c 'echo other >other.txt'
other=$out
q_bg w worker --once -j 2
wp=$bg_pid
wait_for 'test -s grand.pid -a -s cmd.pid' 10
sup=$(q events "$victim" | grep '"start"' | jpy 'j["pid"]')
kill -KILL "$sup"
check "the command dies with its supervisor" wait_gone 3 "$(cat cmd.pid)"
check "so does its setsid grandchild" wait_gone 3 "$(cat grand.pid)"
wait "$wp"
is "$?" 0 "the worker survives its supervisor's death and exits 0"
run_q result "$other"
is "$rc" 0 "the worker's other job completed"
run_q show --json "$victim"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "signal"]' \
	"the job whose supervisor was killed failed (signal)"

# --- 5. a cancel between claim and start is never erased ----------------------------

if [ -n "$have_strace" ]; then
	for when in start-written start-unwritten; do
		rm -f ran
		run_q add -- touch ran
		id=$out
		# Hold the worker in its start: before the start event's write, or its flush.
		if [ $when = start-written ]; then inj=fdatasync; else inj=write; fi
		strace -f -qq -o /dev/null -e trace=$inj -e signal=none \
			-e inject=$inj:delay_enter=1500000:when=1 "$Q" worker --once >/dev/null 2>&1 &
		wp=$!
		wait_for "test -e '$Q_SPOOL/running/$id'" 5
		run_q cancel "$id"
		is "$rc" 0 "$when: q cancel exits 0"
		wait "$wp"
		run_q show --json "$id"
		is "$(jpy 'j["status"]' <<<"$out")" cancelled "$when: the job ends cancelled"
		check "$when: the command never ran" test ! -e ran
	done
else
	skip 6 "strace is not installed"
fi

# --- 6. a worker never dies of SIGPIPE ------------------------------------------

run_q add -- sleep 2
id=$out
q_bg w worker --once
wp=$bg_pid
wait_for "test -e '$Q_SPOOL/running/$id'" 5
ign=$(sed -n 's/^SigIgn:\s*//p' "/proc/$wp/status")
[ $((0x$ign >> 12 & 1)) = 1 ]
ok $? "the worker ignores SIGPIPE (SigIgn $ign)"
kill "$wp" 2>/dev/null
wait "$wp" 2>/dev/null
run_q worker --once

# --- 7. a torn event line is never glued to the next ---------------------------

run_q add -- false
id=$out
run_q worker --once
ev="$Q_SPOOL/logs/${id:0:4}/$id.events"
printf '{"at":"2026-12-01T00:00:00.000Z","ev' >>"$ev"
run_q retry "$id"
is "$rc" 0 "q retry after a torn line exits 0"
run_q show --json "$id"
is "$(jpy '[j["status"], j["attempts"]]' <<<"$out")" '["pending", 0]' "and the retry took effect"
like "$(tail -1 "$ev")" '^\{"at":"[^"]+","event":"retry"\}$' "the retry event stands on its own line"
run_q fsck
is "$rc" 1 "fsck reports the torn line"
like "$out" "1 line that is not an event \\(torn write\\)" "naming it"
run_q fsck --repair
run_q fsck
is "$rc" 0 "fsck --repair rewrites the log without it"
run_q show --json "$id"
is "$(jpy 'j["status"]' <<<"$out")" pending "the job is as it was"
run_q cancel "$id"

# --- 8. FIFOs named like jobs never block --------------------------------------

for d in waiting running held; do
	f=$(make_id)
	mkfifo "$Q_SPOOL/$d/$f"
	for cmd in "worker --once" "gc" "list" "show $f" "cancel $f" "status"; do
		RUN_Q_TIMEOUT=10 run_q $cmd
		isnt "$rc" 124 "a FIFO in $d/: q $cmd does not hang"
	done
	rm -f "$Q_SPOOL/$d/$f"
done

# --- 9. a stopped process holding keys/.lock wedges nobody -------------------------

run_q add --key k9 -- true
# This shell holds keys/.lock, as a keyed q add stopped by ^Z would.
exec {lk}<>"$Q_SPOOL/keys/.lock"
flock -n "$lk"
t0=$(now_ms)
Q_GC_INTERVAL=0s RUN_Q_TIMEOUT=20 run_q worker --once
is "$rc" 0 "a worker (with gc due) finishes while keys/.lock is held"
run_q add --key k9b -- true
is "$rc" 3 "a keyed add gives up on a held keys/.lock"
like "$err" "'keys/.lock' is held by another process" "and says why"
t1=$(now_ms)
[ $((t1 - t0)) -lt 15000 ]
ok $? "neither waits for the holder ($((t1 - t0)) ms)"
exec {lk}<&-

# --- 10. gc removing an empty bucket never breaks a move into it --------------

# gc leaves the last day's buckets alone: jobs made two days ago (by the
# clock's offset) finish into an old bucket, which gc removes when empty.
(for i in $(seq 150); do "$Q" gc --older-than 0s >/dev/null 2>&1; done) &
gcp=$!
bad=0
for i in $(seq 60); do
	id=$(Q_CLOCK_OFFSET=-172800000 "$Q" add -- true) || bad=$((bad + 1))
	"$Q" cancel "$id" >/dev/null 2>&1 || bad=$((bad + 1))
done
wait "$gcp"
is "$bad" 0 "60 add+cancel beside a gc loop: no failure"

# --- 11. the time limit holds while the worker is stopped ------------------------

run_q add --timeout 1s -- sh -c 'echo $$ >slow.pid; exec sleep 30'
id=$out
Q_JOB_KILL_GRACE=200ms q_bg w worker --once
wp=$bg_pid
wait_for 'test -s slow.pid' 5
kill -STOP "$wp"
check "the command is killed at its time limit while the worker is stopped" \
	wait_gone 5 "$(cat slow.pid)"
kill -CONT "$wp"
wait "$wp"
run_q show --json "$id"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "timeout"]' "recorded as a timeout"

# --- 12. a clock that was a year ahead does not defer a job a year -------------

run_q add --attempts 2 --backoff 2s -- false
id=$out
Q_CLOCK_OFFSET=31536000000 run_q worker --once
due=$(q show --json "$id" | jpy 'j["run_at"]')
like "$due" "^$(($(date -u +%Y) + 1))-" "a worker whose clock is a year ahead defers it into next year"
run_q worker --once
due=$(q show --json "$id" | jpy 'j["run_at"]')
d=$(($(date -d "$due" +%s) - $(date +%s)))
[ "$d" -le 5 ]
ok $? "once the clock is right, it is due within its backoff ($d s)"

# --- 13. stray files: readers go on, fsck --repair clears them --------------------

run_q add -- true
good=$out
run_q worker --once
stray=$Q_SPOOL/done/zzzz
echo x >"$stray"
chmod 0600 "$stray"
run_q add -- true
sym=$out
ln -sf /etc/passwd "$Q_SPOOL/logs/${sym:0:4}/$sym.events"
for cmd in status gc; do
	run_q $cmd
	is "$rc" 0 "q $cmd with a stray file named like a bucket and a symlinked log exits 0"
done
run_q list
is "$rc" 3 "q list exits 3 for the job whose log is a symbolic link"
like "$out" "$good" "but lists the other jobs"
like "$err" "logs/${sym:0:4}/$sym.events" "and names the file it refused"
run_q fsck
is "$rc" 1 "fsck reports both"
like "$out" "'done/zzzz' is not a directory" "the stray file"
like "$out" "$sym.events' is not a regular file" "the symbolic link"
run_q fsck --repair
run_q fsck
is "$rc" 0 "fsck --repair sets them aside"
[ "$rc" = 0 ] || diag "$out$err"
run_q list
is "$rc" 0 "q list exits 0 again"

# --- 14. likely secrets are not stored ---------------------------------------

ANTHROPIC_API_KEY=sk-ant-0000secret AWS_SECRET_ACCESS_KEY=aws0000secret PGPASSWORD=pg0000secret \
	MY_TOKEN=tok0000secret KEEP_KEY=keep0000value PLAIN=plain0000value \
	run_q add --env KEEP_KEY -- sh -c 'env >env.out'
id=$out
grep -rq -e 0000secret "$Q_SPOOL"
isnt "$?" 0 "no value of a secret-looking variable is in the spool"
run_q show --json "$id"
is "$(jpy 'sorted(j["env_dropped"])' <<<"$out")" \
	'["ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "MY_TOKEN", "PGPASSWORD"]' \
	"show --json lists the names left out"
run_q show "$id"
like "$out" "env left .*ANTHROPIC_API_KEY.* \\(likely secrets: not stored\\)" "q show names them"
run_q worker --once
like "$(cat env.out)" "KEEP_KEY=keep0000value" "--env keeps a named variable"
like "$(cat env.out)" "PLAIN=plain0000value" "ordinary variables are kept"
unlike "$(cat env.out)" "0000secret" "the job runs without the secrets"

# --- 15. smaller defects -----------------------------------------------------

# A cwd that is not UTF-8.
bad=$(printf 'dir\xff')
mkdir "$bad"
(cd "$bad" && run_q add -- true && echo "$rc|$err" >../cwd.txt)
like "$(cat cwd.txt)" "^3\|q: the current directory is not valid UTF-8" \
	"a non-UTF-8 cwd: exit 3 with a message that says so"

# A 200-byte UTF-8 key.
k=$(printf 'é%.0s' $(seq 100))
run_q add --key "$k" -- true
is "$rc" 0 "a 200-byte UTF-8 key works"
first=$out
run_q add --key "$k" -- true
is "$out" "$first" "and deduplicates"

# queue.max_pending holds under concurrent adds.
Q_SPOOL=$scratch/cap/spool Q_QUEUE_MAX_PENDING=10 bash -c '
	for i in $(seq 30); do "$1" add -- true >/dev/null 2>&1 & done; wait' sh "$Q"
n=$(find "$scratch/cap/spool/pending" -type f | wc -l)
is "$n" 10 "30 concurrent adds against queue.max_pending 10 queue exactly 10"

# q retry never leaves two live jobs with one key.
run_q add --key kr -- false
a=$out
run_q worker --once
run_q add --key kr -- true
b=$out
run_q retry "$a"
is "$rc" 1 "retry of a job whose key another live job holds is refused"
like "$err" "job $b" "naming the holder"
run_q cancel "$b"
run_q retry "$a"
is "$rc" 0 "once the holder is gone, the retry goes ahead"
run_q add --key kr -- true
is "$out" "$a" "and the retried job holds the key again"

# --sync --hold would wait forever.
run_q add --sync --hold -- true
is "$rc" 2 "--sync with --hold is a usage error"

# q log -f of a job removed by gc ends.
run_q add -- echo gone
id=$out
run_q worker --once
q_bg lf log -f "$id"
lf=$bg_pid
run_q gc --older-than 0s
check "q log -f ends when the job is removed" wait_gone 5 "$lf"

# Escape sequences from a job never reach the terminal.
run_q add -- printf '\033]0;owned\007'
id=$out
run_q show "$id"
unlike "$out" $'\033' "q show prints no escape character from a job's arguments"

# q add to a full stdout: the job is taken back.
before=$(find "$Q_SPOOL/pending" -type f | wc -l)
"$Q" add -- true >/dev/full 2>err.txt
is "$?" 3 "q add >/dev/full exits 3"
is "$(wc -l <err.txt)" 1 "with one message"
like "$(cat err.txt)" "job not queued" "saying the job was not queued"
is "$(find "$Q_SPOOL/pending" -type f | wc -l)" "$before" "and it was not"

# A value that is not UTF-8: named, not silently dropped.
BIN_VAL=$(printf 'x\xffy') run_q add -- true
is "$(q show --json "$out" | jpy 'j["env_dropped"]')" '["BIN_VAL"]' "a non-UTF-8 value is listed as left out"

done_testing
