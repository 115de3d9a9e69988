#!/usr/bin/env bash
# q progress from inside a job; show, events and watch report it.
. "$(dirname "$0")/lib.sh"

export PATH="$TOP/bin:$PATH"

run_q add -- sh -c 'q progress 50 halfway there; touch started; sleep 30'
id=$out
q_bg w worker --once
w=$bg_pid
check "the job started" wait_for 'test -e started' 10

run_q show "$id"
is "$rc" 0 "show exits 0"
like "$out" '50 ?%' "show shows 50%"
like "$out" 'halfway there' "show shows the message"
run_q show --json "$id"
is "$(jpy '[j["status"], j["progress"]["pct"], j["progress"]["message"]]' <<<"$out")" \
	'["running", 50, "halfway there"]' "show --json progress"
like "$(jpy 'j["progress"]["at"]' <<<"$out")" '^[0-9-]+T[0-9:.]+Z$' "progress.at is a time"
run_q events "$id"
unlike "$out" '"progress"' "progress stays out of the event log"
pf="$Q_SPOOL/logs/${id:0:4}/$id.progress"
is "$(jpy '[j["pct"], j["message"]]' <"$pf")" '[50, "halfway there"]' \
	"logs/B/ID.progress holds the report"
is "$(stat -c %a "$pf")" 600 "the progress file has mode 0600"

# q watch on a terminal: a progress bar.
sock="q-test-$$"
if tmux -L "$sock" -f /dev/null new-session -d -s w -x 100 -y 30 \
	"env Q_SPOOL='$Q_SPOOL' HOME='$HOME' '$Q' watch" 2>/dev/null; then
	bar_seen() {
		tmux -L "$sock" capture-pane -p -t w >pane.txt 2>/dev/null || return 1
		grep -q "${id:0:6}" pane.txt && grep -q '50 \?%' pane.txt &&
			grep -E -q '(#|=|█|▓|■|▇|━){3,}' pane.txt
	}
	check "q watch on a tty shows the job with a progress bar" wait_for bar_seen 5 ||
		diag "$(cat pane.txt 2>/dev/null)"
	tmux -L "$sock" kill-server 2>/dev/null
else
	skip 1 "tmux cannot start a session"
fi

# q watch not on a tty: plain lines, one per change (here: a progress
# report made after the watch started).
"$Q" watch >watch.txt 2>&1 </dev/null &
wp=$!
sleep 0.3
Q_JOB_ID=$id run_q progress 75 three quarters
is "$rc" 0 "q progress with Q_JOB_ID set exits 0"
check "q watch on a pipe prints a line for the job's progress" \
	wait_for "grep -q '$id.*75' watch.txt" 3 || diag "$(cat watch.txt)"
unlike "$(cat watch.txt)" $'\033\\[' "q watch on a pipe writes no escape sequences"
kill "$wp" 2>/dev/null
wait "$wp" 2>/dev/null

# Progress outside a job is a usage error; bad percentages too.
run_q progress 50
isnt "$rc" 0 "q progress outside a job fails"
Q_JOB_ID=$id run_q progress 150
is "$rc" 2 "q progress 150 is a usage error"
Q_JOB_ID=$id run_q progress abc
is "$rc" 2 "q progress abc is a usage error"

run_q cancel "$id"
wait "$w"
done_testing
