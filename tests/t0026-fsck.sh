#!/usr/bin/env bash
# q fsck: every invariant of spool-format.md, and the recovery rules for
# a crash between an event and its rename.
. "$(dirname "$0")/lib.sh"

umask 077
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)

# fsck_case DESC: fsck exits 1 and names something; then the caller fixes.
expect_fsck_1() {
	run_q fsck
	is "$rc" 1 "$1: fsck exits 1"
	isnt "$out$err" "" "$1: fsck reports it"
}
expect_fsck_0() {
	run_q fsck
	is "$rc" 0 "$1: fsck exits 0"
	[ "$rc" = 0 ] || diag "$out" "$err"
}

# ev ID JSON: append an event line to ID's log.
ev() {
	local d="$Q_SPOOL/logs/${1:0:4}"
	mkdir -p "$d"
	printf '%s\n' "$2" >>"$d/$1.events"
}

run_q add -- true
run_q worker --once
expect_fsck_0 "a fresh spool"

# --- 5: location disagrees with the verdict (crash between event and rename) ---

run_q add -- touch ran-a
a=$out
ev "$a" "{\"at\":\"$now\",\"event\":\"cancelled\"}"
expect_fsck_1 "pending job with a cancelled verdict"
run_q fsck --repair
expect_fsck_0 "after fsck --repair"
check "repair moved it to cancelled/" test -f "$Q_SPOOL/cancelled/${a:0:4}/$a"

run_q add -- touch ran-b
b=$out
ev "$b" "{\"at\":\"$now\",\"event\":\"cancelled\"}"
run_q worker --once
check "a worker does not run a job whose verdict is cancelled" test ! -e ran-b
is "$(q show --json "$b" | jpy 'j["status"]')" cancelled "the worker moved it to cancelled/"
expect_fsck_0 "after the worker's recovery"

# A job in a final directory without a verdict (a crash between the
# rename and the event of a decision outside a worker) has the status its
# directory says: nothing to repair.
run_q add -- false
c=$out
run_q worker --once
ev "$c" "{\"at\":\"$now\",\"event\":\"retry\"}"
expect_fsck_0 "failed job with a retry event after its verdict"
is "$(q show --json "$c" | jpy 'j["status"]')" failed "its status is its directory's"
run_q fsck --repair
check "repair leaves it in failed/" test -f "$Q_SPOOL/failed/${c:0:4}/$c"

# --- 3: an id in two places -----------------------------------------------------

run_q add -- true
d=$out
cp -p "$Q_SPOOL/pending/5-$d" "$Q_SPOOL/held/$d"
expect_fsck_1 "one id in pending/ and held/"
rm "$Q_SPOOL/held/$d"
expect_fsck_0 "duplicate removed"

# --- 1: modes and types ---------------------------------------------------------

chmod 0644 "$Q_SPOOL/pending/5-$d"
expect_fsck_1 "a job file with mode 0644"
chmod 0600 "$Q_SPOOL/pending/5-$d"
chmod 0755 "$Q_SPOOL/done"
expect_fsck_1 "done/ with mode 0755"
chmod 0700 "$Q_SPOOL/done"
ln -s /etc/hostname "$Q_SPOOL/held/$(make_id)"
expect_fsck_1 "a symlink in held/"
rm -f "$Q_SPOOL"/held/*
mkfifo "$Q_SPOOL/tmp/fifo"
expect_fsck_1 "a FIFO in tmp/"
rm -f "$Q_SPOOL/tmp/fifo"
lf=$(find "$Q_SPOOL/logs" -name '*.events' | head -1)
chmod 0644 "$lf"
expect_fsck_1 "an event log with mode 0644"
chmod 0600 "$lf"
chmod 0755 "$Q_SPOOL/logs/${d:0:4}"
expect_fsck_1 "a logs/B directory with mode 0755"
chmod 0700 "$Q_SPOOL/logs/${d:0:4}"
ln -s /etc/hostname "$Q_SPOOL/logs/${d:0:4}/$(make_id).out"
expect_fsck_1 "a symlink in logs/B/"
find "$Q_SPOOL/logs" -type l -delete
expect_fsck_0 "fixed"

# --- 2: job files parse and match their names ------------------------------------

e=$(make_id)
printf '{"version":1,"id":"%s","type":"exec","argv":["true"],"cwd":"%s","created_at":"%s","priority":5}\n' \
	"$e" "$scratch" "$now" >"$Q_SPOOL/deferred/4-$e"
expect_fsck_1 "deferred/4-ID with priority 5"
rm "$Q_SPOOL/deferred/4-$e"
printf '{"version":1,"id":"%s","type":"exec","argv":["true"],"cwd":"%s","created_at":"%s"}\n' \
	"$e" "$scratch" "$now" >"$Q_SPOOL/held/$(make_id)"
expect_fsck_1 "held/ID whose id differs"
rm -f "$Q_SPOOL"/held/*
printf '{"version":1,"id":"%s","type":"exec","argv":["true"],"cwd":"%s","created_at":"yesterday"}\n' \
	"$e" "$scratch" >"$Q_SPOOL/waiting/$e"
expect_fsck_1 "waiting/ID with a bad created_at"
rm -f "$Q_SPOOL/waiting/$e"
expect_fsck_0 "fixed"

# --- 4: running/ files are locked -------------------------------------------------

cp -p "$Q_SPOOL/pending/5-$d" "$Q_SPOOL/running/$d"
rm "$Q_SPOOL/pending/5-$d"
expect_fsck_1 "an unlocked file in running/"
run_q fsck --repair
expect_fsck_0 "after repair of running/"
is "$(q show --json "$d" | jpy 'j["status"]')" pending "an unlocked running job never started goes back to pending"

# --- 6: keys ------------------------------------------------------------------------

run_q add --key kk -- true
mkdir -p "$Q_SPOOL/keys"
printf 'not a job\n' >"$Q_SPOOL/keys/bogus"
expect_fsck_1 "a keys/ entry that is not a job file"
rm "$Q_SPOOL/keys/bogus"
expect_fsck_0 "fixed"

# --- 7: stale staging files ---------------------------------------------------------

f="$Q_SPOOL/tmp/$(make_id).12345"
printf '{}' >"$f"
expect_fsck_0 "a fresh staging file in tmp/"
touch -d '2 hours ago' "$f"
expect_fsck_1 "a staging file older than an hour"
run_q gc
check "gc removes the stale staging file" test ! -e "$f"
expect_fsck_0 "after gc"

# --- fsck does not change anything without --repair ---------------------------------

run_q add -- true
x=$out
ev "$x" "{\"at\":\"$now\",\"event\":\"cancelled\"}"
before=$(spool_listing)
run_q fsck
is "$(spool_listing)" "$before" "fsck without --repair changes nothing"
run_q fsck --repair

done_testing
