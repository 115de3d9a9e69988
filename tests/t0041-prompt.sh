#!/usr/bin/env bash
# Prompts: q prompt, q next, q done, q fail, and how the rest of q treats
# them: workers never run them, promotion and release offer them, hold,
# retry, cancel, gc and fsck know them, an older q leaves them alone.
. "$(dirname "$0")/lib.sh"

unset CLAUDE_PROJECT_DIR CLAUDE_ENV_FILE

# --- q prompt ---------------------------------------------------------------------

run_q prompt Analyze the codebase
is "$rc" 0 "q prompt exits 0"
p1=$out
like "$p1" '^[0-9a-z]{14}$' "and prints the id"
run_q show --json "$p1"
is "$(jpy '[j["type"], j["status"], j["state"], j["args"]["text"], j["max_attempts"]]' <<<"$out")" \
	'["prompt", "pending", "offered", "Analyze the codebase", 3]' \
	"a prompt: pending, offered, its words joined, agent.attempts (3)"
check "its file is offered/5-ID" test -f "$Q_SPOOL/offered/5-$p1"
printf 'line one\nline two\n' >text
RUN_Q_STDIN=text run_q prompt -p high --attempts 5 -l review --key rev1
p2=$out
run_q show --json "$p2"
is "$(jpy '[j["args"]["text"], j["priority"], j["max_attempts"], j["labels"], j["key"]]' <<<"$out")" \
	'["line one\nline two\n", 2, 5, ["review"], "rev1"]' "text from standard input; options as q add"
RUN_Q_STDIN=text run_q prompt --key rev1
is "$out" "$p2" "--key: a live prompt with the key is the answer"
run_q list --state offered
like "$out" "^$p2  offered .*prompt: line one  \\[review\\]" "q list: the first line of the prompt"
run_q prompt "   "
is "$rc" 2 "an empty prompt is a usage error"
run_q prompt --timeout 1s hello
is "$rc" 2 "options that mean nothing for a prompt are refused"
RUN_Q_STDIN=/dev/null run_q prompt
is "$rc" 2 "no text at all: usage error"
run_q status
like "$out" "^2 pending," "q status counts prompts as pending"
like "$out" "prompts: 2 offered to agent sessions, 0 leased" "and says where they are"

# --- workers never run them ----------------------------------------------------------

run_q worker
is "$rc" 0 "a worker with only prompts queued exits 0"
check "and leaves them offered" test -f "$Q_SPOOL/offered/5-$p1"
# One in pending/ (an older q promotes without reading the type): moved, not run.
mv "$Q_SPOOL/offered/5-$p1" "$Q_SPOOL/pending/5-$p1"
run_q worker
check "a worker moves a prompt found in pending/ to offered/" test -f "$Q_SPOOL/offered/5-$p1"
unlike "$(q events "$p1")" '"start"' "without starting it"
Q_BIN=$TEST_DIR/q-exec-only run_q list --state pending
is "$rc" 0 "an older q (exec only) lists the spool"
Q_BIN=$TEST_DIR/q-exec-only run_q worker
check "and its worker does not touch offered/" test -f "$Q_SPOOL/offered/5-$p1"

# Deferred and waiting prompts become offered, not pending.
run_q prompt --in 1s "Later."
p3=$out
check "a deferred prompt waits in deferred/" test -f "$Q_SPOOL/deferred/5-$p3"
run_q add -- true
dep=$out
run_q prompt --after "$dep" "After the job."
p4=$out
Q_CLOCK_OFFSET=5000 run_q worker
check "due: offered" test -f "$Q_SPOOL/offered/5-$p3"
check "its dependency done: offered" test -f "$Q_SPOOL/offered/5-$p4"
run_q hold "$p3"
is "$(q show --json "$p3" | jpy 'j["state"]')" held "an offered prompt can be held"
Q_CLOCK_OFFSET=5000 run_q release "$p3"
is "$(q show --json "$p3" | jpy 'j["state"]')" offered "and released (its time has come): offered again"

# --- q next, done, fail ---------------------------------------------------------------

run_q next
is "$rc" 2 "q next without Q_SESSION: usage error"
export Q_SESSION=shell-1
run_q next
is "$rc" 1 "q next with nothing leased: exit 1"
like "$err" "no prompt is leased to this session" "and says so"
run_q next --take
is "$rc" 0 "q next --take leases one"
like "$out" "^prompt $p2, leased to this session" "the highest priority first"
like "$out" "line one"$'\n'"line two" "and prints its text"
run_q next --json
is "$(jpy '[j["id"], j["state"]]' <<<"$out")" "[\"$p2\", \"leased\"]" "q next shows it again (--json: the view)"
run_q next --take
like "$out" "^prompt $p2," "--take while one is held: the held one"
like "$(q events "$p2")" '"event":"leased","session":"shell-1","agent":"shell"' "the lease names the session"
Q_SESSION=shell-2 run_q release "$p2"
is "$rc" 1 "another session cannot give it back"
like "$err" "leased to another session \\('shell-1'\\)" "and is told whose it is"
run_q release "$p2"
is "$rc" 0 "the holder gives it back"
like "$(q events "$p2")" '"returned","reason":"released"' "returned, released"
run_q show --json "$p2"
is "$(jpy '[j["state"], j["attempts"]]' <<<"$out")" '["offered", 0]' "offered again; giving back costs no attempt"
run_q next --take
run_q fail "$p2" --note "the code is not there"
is "$rc" 0 "q fail"
run_q result --json "$p2"
is "$(jpy '[j["status"], j["error"], j["result"]]' <<<"$out")" '["failed", "agent_failed", "the code is not there"]' \
	"failed, agent_failed, the note as result"
run_q fail "$p2"
is "$rc" 1 "a final prompt cannot be failed again"
run_q retry "$p2"
is "$(q show --json "$p2" | jpy 'j["state"]')" offered "q retry offers it again"
unset Q_SESSION
run_q done "$p2"
is "$rc" 0 "a shell may finish a prompt nobody holds"
run_q done "$dep"
is "$rc" 1 "q done of a job that is not a prompt: exit 1"
like "$err" "not a prompt" "and says why"
run_q done zzzzzzzzzzzzzz
is "$rc" 4 "q done of no job: exit 4"
run_q done "$p3" --note "$(head -c 20000 /dev/zero | tr '\0' x)"
is "$rc" 2 "a note over 10,000 bytes is refused"
Q_SESSION=canceller run_q next --take
c1=$(sed -n 's/^prompt \([0-9a-z]*\),.*/\1/p' <<<"$out")
run_q cancel "$c1"
is "$rc/$(q show --json "$c1" | jpy 'j["state"]')" 0/cancelled "a leased prompt can be cancelled"

# --- deadline, gc, fsck ------------------------------------------------------------------

run_q prompt --deadline 1m "Too late."
p5=$out
Q_CLOCK_OFFSET=120000 run_q gc
is "$(q show --json "$p5" | jpy 'j["state"]')" expired "gc expires a prompt no session took before its deadline"
run_q fsck
is "$rc" 0 "fsck is clean"
# An exec job in offered/ breaks invariant 8; repair sends it to pending/.
run_q add -- true
x=$out
mv "$Q_SPOOL/pending/5-$x" "$Q_SPOOL/offered/5-$x"
run_q fsck
is "$rc" 1 "fsck: a job that is not a prompt in offered/"
like "$out" "'offered/5-$x' is a exec job, not a prompt" "says so"
run_q fsck --repair
check "repair moves it to pending/" test -f "$Q_SPOOL/pending/5-$x"
check "fsck is clean" q fsck
done_testing
