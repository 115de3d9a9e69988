#!/usr/bin/env bash
# Unreadable files in pending/ are quarantined with a reason; the other
# jobs run; nothing is deleted.
. "$(dirname "$0")/lib.sh"

umask 077

# in_quarantine ORIG: a file in quarantine/ has ORIG's content, and a
# non-empty NAME.reason lies beside it. Prints NAME.
in_quarantine() {
	local f
	for f in "$Q_SPOOL"/quarantine/*; do
		[ -f "$f" ] || continue
		case "$f" in *.reason) continue ;; esac
		if cmp -s "$f" "$1"; then
			[ -s "$f.reason" ] || return 1
			basename "$f"
			return 0
		fi
	done
	return 1
}

run_q add -- sh -c 'echo good1 >>ran'
good1=$out
run_q add -- sh -c 'echo good2 >>ran'
good2=$out
P="$Q_SPOOL/pending"

# The bad files, each also kept outside the spool to compare with.
mkdir -p orig
id1=$(make_id)
head -c 300 /dev/urandom >orig/garbage
cp orig/garbage "$P/5-$id1"
printf 'this is not a job\n' >orig/junk
cp orig/junk "$P/junk.txt"
id2=$(make_id)
while [ "$id2" = "$id1" ]; do id2=$(make_id); done
printf '{"version":1,"id":"%s","type":"exec","argv":["tou' "$id2" >orig/truncated
cp orig/truncated "$P/5-$id2"

# JSON that parses but does not validate.
id3=$(make_id)
id4=$(make_id)
id5=$(make_id)
id6=$(make_id)
id7=$(make_id)
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
# id does not match the name
printf '{"version":1,"id":"%s","type":"exec","argv":["touch","%s/bad-id"],"cwd":"%s","created_at":"%s"}\n' \
	"$id4" "$scratch" "$scratch" "$now" >orig/mismatch
cp orig/mismatch "$P/5-$id3"
# priority does not match the P of the name
printf '{"version":1,"id":"%s","type":"exec","argv":["touch","%s/bad-prio"],"cwd":"%s","created_at":"%s","priority":5}\n' \
	"$id5" "$scratch" "$scratch" "$now" >orig/prio
cp orig/prio "$P/3-$id5"
# empty argv
printf '{"version":1,"id":"%s","type":"exec","argv":[],"cwd":"%s","created_at":"%s"}\n' \
	"$id6" "$scratch" "$now" >orig/noargv
cp orig/noargv "$P/5-$id6"
# relative cwd
printf '{"version":1,"id":"%s","type":"exec","argv":["touch","%s/bad-cwd"],"cwd":"relative","created_at":"%s"}\n' \
	"$id7" "$scratch" "$now" >orig/relcwd
cp orig/relcwd "$P/5-$id7"

run_q worker --once
is "$rc" 0 "worker exits 0 despite the bad files"
[ "$rc" = 0 ] || diag "$err"
is "$(sort ran 2>/dev/null | tr '\n' ' ')" "good1 good2 " "both good jobs ran, once each"
run_q result "$good1"
is "$rc" 0 "good job 1 completed"
run_q result "$good2"
is "$rc" 0 "good job 2 completed"

for name in garbage junk truncated mismatch prio noargv relcwd; do
	q_name=$(in_quarantine "orig/$name")
	ok $? "$name: moved to quarantine/ intact, with a .reason"
done
is "$(find "$P" -mindepth 1)" "" "pending/ is empty"
for f in bad-id bad-prio bad-cwd; do
	check "the invalid job ($f) never ran" test ! -e "$f"
done
n=$(find "$Q_SPOOL/quarantine" -type f ! -name '*.reason' | wc -l)
is "$n" 7 "seven files in quarantine/"
n=$(find "$Q_SPOOL/quarantine" -type f -name '*.reason' | wc -l)
is "$n" 7 "seven .reason files"
is "$(find "$Q_SPOOL/quarantine" -type f ! -perm 0600)" "" "quarantined files have mode 0600"

# A quarantined file is not a job: unknown to show, absent from list.
run_q show "$id2"
is "$rc" 4 "show of a quarantined id: exit 4"
run_q list --json
is "$(jpy 'sorted(x["id"] for x in j)' <<<"$out")" "$(jpy 'sorted(j)' <<<"[\"$good1\", \"$good2\"]")" \
	"list shows only the good jobs"

run_q fsck
is "$rc" 0 "fsck is clean after quarantine"
[ "$rc" = 0 ] || diag "$out" "$err"

# A second worker run leaves the quarantine alone.
before=$(spool_listing)
run_q worker --once
is "$rc" 0 "second worker run exits 0"
is "$(find "$Q_SPOOL/quarantine" -type f | wc -l)" 14 "quarantine unchanged"

# Things that are not regular files in pending/: a FIFO (a naive open would
# block), a directory, a dangling symlink.
run_q add -- sh -c 'echo good3 >>ran'
good3=$out
fid=$(make_id)
did=$(make_id)
lid=$(make_id)
mkfifo "$P/5-$fid"
mkdir "$P/5-$did"
ln -s "$scratch/nowhere" "$P/5-$lid"
timeout 20 "$Q" worker --once >w.out 2>w.err
st=$?
isnt "$st" 124 "worker does not hang on a FIFO in pending/"
is "$st" 0 "worker exits 0 with a FIFO, a directory and a symlink in pending/"
run_q result "$good3"
is "$rc" 0 "the good job ran"
is "$(find "$P" -mindepth 1)" "" "pending/ is empty again"
for x in "$fid" "$did" "$lid"; do
	n=$(find "$Q_SPOOL/quarantine" -name "*$x*" ! -name '*.reason' | wc -l)
	is "$n" 1 "non-regular pending/5-$x is quarantined"
done
check "the dangling symlink's target was not created" test ! -e nowhere

done_testing
