#!/usr/bin/env bash
# Golden files: the bytes q writes into a spool (job files, event logs) and
# its JSON output (show, result, status --json) for
# a fixed set of jobs, compared with tests/golden/*, with what varies from
# run to run masked: ids (ID1, ID2, ... in order of appearance), times
# (TIME), pids and process start times (N), the scratch directory (DIR).
# A change to what q writes must change these files, and spool-format.md
# with them, in the same commit.  To regenerate after a deliberate format
# change: QTEST_GOLDEN_UPDATE=1 prove tests/t0034-golden.sh; then read the
# diff.
. "$(dirname "$0")/lib.sh"

golden=$TOP/tests/golden
# q with exactly this environment, so that the stored env is known.
qe() {
	_q_guard "$@"
	env -i PATH=/usr/bin:/bin LANG=C.UTF-8 Q_SPOOL="$Q_SPOOL" Q_SYNC_MODE=manual \
		"$Q" "$@"
}

mask() {
	perl -pe '
		BEGIN { $dir = shift @ARGV }
		s/\Q$dir\E/DIR/g;
		s/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/TIME/g;
		s/"(pid|pid_start)":\d+/"$1":N/g;
		s/(?<![0-9a-z])([0-9a-hjkmnp-tv-z]{14})(?![0-9a-z])/$id{$1} \/\/= "ID" . ++$n/ge;
	' "$scratch"
}

# compare NAME: stdin (masked) against tests/golden/NAME.
compare() {
	local name=$1 got
	got=$(mask)
	if [ -n "${QTEST_GOLDEN_UPDATE:-}" ]; then
		printf '%s\n' "$got" >"$golden/$name"
	fi
	is "$got" "$(cat "$golden/$name" 2>/dev/null)" "golden: $name"
}

events() { cat "$Q_SPOOL"/logs/*/"$1.events"; }

# A job with every option that shows in the file.
mkdir -p work
(cd work && qe add -p high --attempts 2 --backoff 50ms:2s --timeout 5s --retry-timeout \
	--deadline 2099-01-01T00:00:00Z --key golden -l one -l two --queue deploy \
	--secret-env GOLDEN_TOKEN -- echo 'a "quoted" arg' é) >id.out
full=$(cat id.out)
compare job-exec-full.json < <(cat "$Q_SPOOL"/pending/*"$full"; echo)
qe cancel "$full"

# Plain jobs through their lives, in one q push.
retried=$(qe add --attempts 2 --backoff 50ms -- sh -c 'exit 3')
held=$(qe add --hold -- true)
qe release "$held"
qe cancel "$held"
parent=$(qe add -- false)
child=$(qe add --after "$parent" -- true)
done_=$(qe add -- sh -c 'echo out; echo "{\"n\": 1}" >"$Q_RESULT"')
qe push >/dev/null

compare job-exec-plain.json < <(cat "$Q_SPOOL"/done/*/"$done_"; echo)
compare events-completed.jsonl < <(events "$done_")
compare events-retried-failed.jsonl < <(events "$retried")
compare events-held-released-cancelled.jsonl < <(events "$held")
compare events-failed.jsonl < <(events "$parent")
compare events-dependency-failed.jsonl < <(events "$child")
compare events-cancelled-pending.jsonl < <(events "$full")
compare result.json <"$(echo "$Q_SPOOL"/logs/*/"$done_.result")"
# Machine output: the JSON view and the counts.
compare view-completed.json < <(qe show "$done_" --json)
compare view-retried-failed.json < <(qe result "$retried" --json)
compare status.json < <(qe status --json)

done_testing
