#!/usr/bin/env bash
# q hook claude|goose: recorded payloads of every event (tests/hooks/*.json,
# the shapes Claude Code and Goose document), a 5 MB tool response and
# invalid JSON; a simulated session (lease, Stop blocks once, q done, the
# block cap); parallel sessions on 100 prompts; leases that expire (by the
# clock offset, no sleeping) and SessionEnd; jobs of a session reported once.
. "$(dirname "$0")/lib.sh"

FIX=$TEST_DIR/hooks
export PATH="$TOP/bin:$PATH"
unset CLAUDE_PROJECT_DIR CLAUDE_ENV_FILE CLAUDE_CODE_STOP_HOOK_BLOCK_CAP GOOSE_STOP_HOOK_BLOCK_CAP

# payload NAME SESSION: a recorded payload with its session and cwd filled in.
payload() {
	sed -e "s|SESSION|$2|g" -e "s|CWD|$scratch|g" "$FIX/$1.json"
}

# hook AGENT NAME SESSION: run q hook on a recorded payload -> $out $err $rc.
hook() {
	payload "$2" "$3" >"$scratch/.payload"
	RUN_Q_STDIN="$scratch/.payload" run_q hook "$1"
}

# event NAME: the event of a recorded payload.
event() {
	sed -n 's/.*"\(hook_event_name\|event\)":"\([A-Za-z]*\)".*/\2/p' "$FIX/$1.json"
}

# expect_shape AGENT EVENT DESC: queue $out for shapes_ok, which checks that
# it is empty or exactly one JSON object of the shape the agent documents
# for EVENT (one python run for them all).
_shapes=$scratch/.shapes
expect_shape() {
	local n=$(($(cat "$_shapes.n" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$_shapes.n"
	printf '%s' "$out" >"$_shapes.$n"
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$_shapes"
}
shapes_ok() {
	local i=0 desc verdict
	while IFS=$'\t' read -r desc verdict; do
		is "$verdict" ok "$desc"
	done < <(python3 - "$_shapes" <<'PY'
import json, sys
def check(agent, event, text):
    if text.strip() == "":
        return "ok"
    try:
        obj, end = json.JSONDecoder().raw_decode(text)
    except ValueError as e:
        return "not JSON: %s" % e
    if text[end:].strip():
        return "more than one JSON value"
    if not isinstance(obj, dict):
        return "not an object"
    def short(s, what):
        if not isinstance(s, str) or not s:
            return "%s is not a non-empty string" % what
        if len(s) >= 10000:
            return "%s has %d characters" % (what, len(s))
    if "decision" in obj:
        if event != "Stop" or set(obj) != {"decision", "reason"} or obj["decision"] != "block":
            return "a block that is not {decision: block, reason} on Stop: %r" % obj
        return short(obj["reason"], "reason") or "ok"
    if agent == "goose":
        return "goose takes only a Stop block: %r" % obj
    if set(obj) != {"hookSpecificOutput"}:
        return "keys %r" % sorted(obj)
    h = obj["hookSpecificOutput"]
    allowed = {"hookEventName", "additionalContext"}
    if event == "SessionStart":
        allowed |= {"sessionTitle", "initialUserMessage"}
    if event not in ("SessionStart", "UserPromptSubmit", "PostToolUse"):
        return "context on %s" % event
    if h.get("hookEventName") != event or not set(h) <= allowed or "additionalContext" not in h:
        return "hookSpecificOutput %r" % h
    for k in h:
        why = short(h[k], k)
        if why:
            return why
    return "ok"
base = sys.argv[1]
for n, line in enumerate(open(base), 1):
    agent, event, desc = line.rstrip("\n").split("\t")
    print("%s\t%s" % (desc, check(agent, event, open("%s.%d" % (base, n)).read())))
PY
)
	rm -f "$_shapes"*
}

# no_prompts: cancel every prompt not finished, so that a section starts afresh.
no_prompts() {
	local ids
	ids=$(q list --state offered; q list --state leased)
	[ -z "$ids" ] || q cancel $(cut -d' ' -f1 <<<"$ids") || bail_out "cannot cancel the prompts"
}

run_q pause # the hooks start no worker: this file tests the hooks alone

# --- every recorded payload: exit 0, nothing or one object of the right shape ----

for f in "$FIX"/claude-*.json "$FIX"/goose-*.json; do
	name=$(basename "$f" .json)
	agent=${name%%-*}
	hook "$agent" "$name" fixture-1
	is "$rc/$err" "0/" "$name: exit 0, nothing on stderr"
	expect_shape "$agent" "$(event "$name")" "$name: output is empty or one $(event "$name") object"
done

# A queued prompt gives the recorded events something to say.
run_q prompt "Read src/json.c and list its functions."
pid=$out
for agent in claude goose; do
	for ev in session-start user-prompt-submit post-tool-use stop stop session-end; do
		Q_AGENT_AUTOCLAIM=1 Q_AGENT_DRAIN=1 hook "$agent" "$agent-$ev" "fixture-$agent"
		is "$rc" 0 "$agent $ev with a prompt queued: exit 0"
		[ "$ev" = stop ] && [ -n "$out" ] && stops=$((${stops:-0} + 1))
		expect_shape "$agent" "$(event "$agent-$ev")" "$agent $ev with a prompt queued: shape"
	done
done
shapes_ok
is "${stops:-0}" 3 "the Stops blocked: once for Claude Code, twice for Goose (the prompt, a reminder)"
like "$(q events "$pid")" '"returned","reason":"session_end"' "the sessions leased the prompt and gave it back at their end"

# 5 MB of tool response: drained, read, answered.
python3 - "$scratch/big.json" <<'PY'
import json, sys
big = {"session_id": "fixture-big", "cwd": "/tmp", "hook_event_name": "PostToolUse",
       "tool_name": "Bash", "tool_input": {"command": "cat big"},
       "tool_response": {"stdout": "x" * (5 << 20), "lines": list(range(20000)), "stderr": ""},
       "tool_use_id": "toolu_big"}
json.dump(big, open(sys.argv[1], "w"))
PY
check "the big payload is over 5 MB" test "$(stat -c %s "$scratch/big.json")" -gt $((5 << 20))
RUN_Q_STDIN=$scratch/big.json run_q hook claude
is "$rc/$out/$err" "0//" "a 5 MB PostToolUse: exit 0, no output, no error"
check "and it registered the session (the payload was read to its end)" test -d "$Q_SPOOL/sessions/fixture-big"

# Invalid input: exit 0, nothing on stdout, the reason in spool.log.
for f in "$FIX"/invalid-*.json /dev/null; do
	name=$(basename "$f" .json)
	for agent in claude goose; do
		RUN_Q_STDIN=$f run_q hook "$agent"
		is "$rc/$out" "0/" "$name ($agent): exit 0, nothing printed"
	done
done
like "$(cat "$Q_SPOOL/spool.log")" "hook claude \\?: hook input from claude: malformed JSON" \
	"what was wrong is in spool.log"
run_q hook
is "$rc" 2 "q hook without an agent is a usage error (not a hook call)"
run_q hook cursor
is "$rc" 2 "and so is an agent q does not know"

# A spool q must refuse: still exit 0 and silent on stdout.
mkdir -p "$scratch/bad"
chmod 755 "$scratch/bad"
hook claude claude-session-start fixture-bad >/dev/null
Q_SPOOL=$scratch/bad RUN_Q_STDIN="$scratch/.payload" run_q hook claude
is "$rc/$out" "0/" "an unusable spool: exit 0, nothing on stdout"
like "$err" "refusing spool" "the reason on stderr (no spool to log it in)"

# --- a simulated Claude Code session ---------------------------------------------

no_prompts
run_q prompt --attempts 1 "Summarise README.md in three lines."
p1=$out
run_q prompt -p low "Count the TODO comments."
p2=$out
Q_AGENT_AUTOCLAIM=1 hook claude claude-session-start sim
ctx=$(jpy 'j["hookSpecificOutput"]["additionalContext"]' <<<"$out")
like "$ctx" "queued prompt $p1\\." "SessionStart leases the first prompt (priority, then age)"
like "$ctx" "Summarise README.md in three lines\\.\$" "and gives its text"
like "$ctx" "q done $p1 --note TEXT" "and says how its outcome is recorded"
is "$(jpy 'j["hookSpecificOutput"]["initialUserMessage"]' <<<"$out")" \
	"Summarise README.md in three lines." "for claude -p the prompt is also the first turn"
run_q list --state leased
like "$out" "^$p1 +leased" "the prompt is leased"
hook claude claude-session-start-compact sim
like "$(jpy 'j["hookSpecificOutput"]["additionalContext"]' <<<"$out")" "This session holds q prompt $p1" \
	"after compaction the session is given its prompt again"
hook claude claude-stop sim
is "$(jpy 'j["decision"]' <<<"$out")" block "Stop with the prompt unfinished blocks"
like "$(jpy 'j["reason"]' <<<"$out")" "q prompt $p1 is still leased to this session" "naming the prompt"
hook claude claude-stop-active sim
is "$out" "" "the Stop it caused is let through: it blocks once"
hook claude claude-stop sim
is "$out" "" "and not again for that prompt"
Q_SESSION=sim run_q next
like "$out" "^prompt $p1, leased to this session" "q next shows the session's prompt"
Q_SESSION=other run_q done "$p1" --note "stolen"
is "$rc" 1 "another session cannot record its outcome"
Q_SESSION=sim run_q done "$p1" --note "README: a queue; commands; how it works."
is "$rc" 0 "q done records it"
run_q result --json "$p1"
is "$(jpy '[j["status"], j["result"]]' <<<"$out")" '["completed", "README: a queue; commands; how it works."]' \
	"the note is the prompt's result"
hook claude claude-stop sim
is "$out" "" "with the prompt done, Stop lets the session stop"
# Draining: Stop leases the next and blocks with it, under the block cap.
for i in 1 2 3 4 5; do run_q prompt "Drain prompt $i."; done
export CLAUDE_CODE_STOP_HOOK_BLOCK_CAP=4 Q_AGENT_DRAIN=1
blocks=0 most=0
for i in $(seq 12); do
	hook claude "$([ $i = 1 ] && echo claude-stop || echo claude-stop-active)" sim
	if [ -n "$out" ]; then blocks=$((blocks + 1)); else blocks=0; fi
	[ "$blocks" -gt "$most" ] && most=$blocks
	id=$(Q_SESSION=sim q next 2>/dev/null | sed -n 's/^prompt \([0-9a-z]*\),.*/\1/p')
	[ -n "$id" ] && Q_SESSION=sim q done "$id"
done
is "$most" 3 "stop_hook_active: at most cap - 1 blocks in a row (cap 4)"
q prompt "One more." >/dev/null
hook claude claude-stop sim
isnt "$out" "" "a new stop (stop_hook_active false) may block again"
unset CLAUDE_CODE_STOP_HOOK_BLOCK_CAP Q_AGENT_DRAIN
hook claude claude-session-end sim
is "$rc/$out" "0/" "SessionEnd: exit 0, no output"
check "SessionEnd unregisters the session" test ! -e "$Q_SPOOL/sessions/sim"
run_q list --state leased
is "$out" "" "and gives back what it held"

# Goose: no stop_hook_active and no context; the prompt comes as the Stop reason.
no_prompts
for i in 1 2 3 4 5; do q prompt "Goose prompt $i." >/dev/null; done
Q_AGENT_AUTOCLAIM=1 hook goose goose-session-start g1
is "$out" "" "Goose SessionStart: nothing printed (Goose takes no context)"
hook goose goose-stop g1
like "$(jpy 'j["reason"]' <<<"$out")" "^q leased to this session the queued prompt" \
	"the first Stop gives the prompt leased at SessionStart"
hook goose goose-stop g1
like "$(jpy 'j["reason"]' <<<"$out")" "is still leased to this session" "the second reminds once"
hook goose goose-stop g1
is "$out" "" "the third lets it stop"
export GOOSE_STOP_HOOK_BLOCK_CAP=3 Q_AGENT_DRAIN=1
hook goose goose-user-prompt-submit g1
blocks=0 most=0
for i in $(seq 6); do
	hook goose goose-stop g1
	if [ -n "$out" ]; then blocks=$((blocks + 1)); else blocks=0; fi
	[ "$blocks" -gt "$most" ] && most=$blocks
	id=$(Q_SESSION=g1 q next 2>/dev/null | sed -n 's/^prompt \([0-9a-z]*\),.*/\1/p')
	[ -n "$id" ] && Q_SESSION=g1 q release "$id"
done
is "$most" 2 "Goose: q counts its blocks itself, at most cap - 1 in a row (cap 3)"
hook goose goose-user-prompt-submit g1
hook goose goose-stop g1
isnt "$out" "" "a new user turn starts the count again"
unset GOOSE_STOP_HOOK_BLOCK_CAP Q_AGENT_DRAIN
hook goose goose-session-end g1
run_q list --state leased
is "$out" "" "Goose's SessionEnd gives its prompt back too"

# --- parallel sessions: each prompt leased exactly once ----------------------------

no_prompts
for i in $(seq 100); do "$Q" prompt "parallel $i" >/dev/null; done
run_q list --state offered
is "$(wc -l <<<"$out")" 100 "100 prompts queued"
for i in $(seq 120); do
	payload claude-session-start "par-$i" >"$scratch/par-$i.json"
done
for i in $(seq 120); do
	Q_AGENT_AUTOCLAIM=1 "$Q" hook claude <"$scratch/par-$i.json" >"$scratch/par-$i.out" 2>&1 &
done
wait
cat "$scratch"/par-*.out | sed -n 's/.*the queued prompt \([0-9a-z]*\)\..*/\1/p' | sort >"$scratch/given"
is "$(wc -l <"$scratch/given")" 100 "120 sessions at once: 100 were given a prompt"
is "$(uniq -d "$scratch/given")" "" "no prompt was given twice"
run_q list --state leased
is "$(cut -d' ' -f1 <<<"$out" | sort)" "$(cat "$scratch/given")" "each given prompt is leased, once"
run_q list --state offered
is "$out" "" "none is left over"
sessions=$(for id in $(cat "$scratch/given"); do
	sed -n 's/.*"event":"leased","session":"\([^"]*\)".*/\1/p' "$Q_SPOOL/logs/${id:0:4}/$id.events"
done | sort)
is "$(wc -l <<<"$sessions")/$(uniq -d <<<"$sessions")" "100/" "each was leased once, no session holds two"
for i in $(seq 120); do
	payload claude-session-end "par-$i" >"$scratch/par-$i.json"
	"$Q" hook claude <"$scratch/par-$i.json" >/dev/null 2>&1 &
done
wait
run_q list --state offered
is "$(wc -l <<<"$out")" 100 "120 SessionEnds at once give all 100 back"
no_prompts

# --- leases that expire, and SessionEnd ---------------------------------------------

run_q prompt --attempts 2 "Expire me."
e1=$out
Q_AGENT_AUTOCLAIM=1 hook claude claude-session-start exp
like "$out" "queued prompt $e1" "leased"
Q_CLOCK_OFFSET=$((9 * 60000)) hook claude claude-post-tool-use exp
Q_CLOCK_OFFSET=$((15 * 60000)) run_q list --state leased
like "$out" "^$e1 +leased" "renewed by PostToolUse at 9 min: still leased at 15 min"
run_q show --json "$e1"
is "$(jpy 'j["progress"]["message"]' <<<"$out")" "tool Write" "PostToolUse notes the tool as progress"
Q_CLOCK_OFFSET=$((20 * 60000)) run_q list --state offered
like "$out" "^$e1 +offered" "unrenewed past agent.lease (10m), q list puts it back"
like "$(q events "$e1")" '"returned","reason":"expired"' "with a returned event (expired)"
Q_SESSION=exp run_q next
is "$rc" 1 "the session no longer holds it"
Q_AGENT_AUTOCLAIM=1 hook claude claude-session-start exp2
Q_CLOCK_OFFSET=$((11 * 60000)) run_q status
run_q show --json "$e1"
is "$(jpy '[j["status"], j["error"], j["attempts"]]' <<<"$out")" '["failed", "lease_expired", 2]' \
	"a second lapse spends its attempts (--attempts 2): failed, lease_expired"
run_q retry "$e1"
run_q list --state offered
like "$out" "^$e1 +offered" "q retry offers a prompt again"
Q_AGENT_LEASE=1s Q_AGENT_AUTOCLAIM=1 hook claude claude-session-start short
check "leased for a second" test -e "$Q_SPOOL/leased/$e1"
run_q resume
Q_CLOCK_OFFSET=2000 run_q worker --once
run_q pause
check "agent.lease is a setting (1s); a worker reaps too" test -e "$Q_SPOOL/offered/5-$e1"
Q_AGENT_AUTOCLAIM=1 hook claude claude-session-start end
like "$out" "queued prompt $e1" "leased again"
start=$(now_ms)
hook claude claude-session-end end
took=$(($(now_ms) - start))
run_q list --state offered
like "$out" "^$e1 +offered" "SessionEnd gives the prompt back at once, no clock needed"
[ "$took" -lt 1500 ]
ok $? "SessionEnd took $took ms (budget 1.5 s)"

# --- jobs a session queued are reported to it, once ----------------------------------

export CLAUDE_ENV_FILE=$scratch/claude-env
hook claude claude-session-start rep
like "$(cat "$CLAUDE_ENV_FILE")" "^export Q_SESSION=rep\$" "SessionStart tells the session's shell its id"
unset CLAUDE_ENV_FILE
. "$scratch/claude-env"
run_q add -- sh -c 'exit 3'
j1=$out
run_q add -- true
j2=$out
unset Q_SESSION
run_q add -- true
j3=$out
hook claude claude-post-tool-use rep
is "$out" "" "nothing to report while the jobs are pending"
run_q resume
"$Q" worker
run_q pause
hook claude claude-post-tool-use rep
ctx=$(jpy 'j["hookSpecificOutput"]["additionalContext"]' <<<"$out")
like "$ctx" "$j1 failed, exit 3, error nonzero_exit: sh -c 'exit 3'" "a finished job is reported: id, status, exit, command"
like "$ctx" "$j2 completed: true" "each of the session's jobs"
unlike "$ctx" "$j3" "not a job queued outside the session"
hook claude claude-user-prompt-submit rep
is "$out" "" "each is reported once"
hook claude claude-post-tool-use rep
is "$out" "" "and only once"

# A hook killed at each of its calls in turn (Q_FAULT=any:N:KILL: a crash
# just before the N-th): its session still ends cleanly, leaving nothing.
n=0 left=
while :; do
	n=$((n + 1))
	payload claude-post-tool-use "crash-$n" >"$scratch/.payload"
	RUN_Q_STDIN="$scratch/.payload" crash_at $n hook claude
	crashed=$?
	hook claude claude-session-end "crash-$n"
	[ ! -e "$Q_SPOOL/sessions/crash-$n" ] || left+="call $n: $(ls -A "$Q_SPOOL/sessions/crash-$n"); "
	[ $crashed = 0 ] || break
	[ $n -lt 200 ] || bail_out "q hook still crashing at call $n"
done
is "$left" "" "a hook killed at any of its $((n - 1)) calls leaves a session its end removes"
hook claude claude-session-start legacy
: >"$Q_SPOOL/sessions/legacy/.state.12345"
chmod 600 "$Q_SPOOL/sessions/legacy/.state.12345"
hook claude claude-session-end legacy
check "so does one with a new state an older q left (.state.PID)" test ! -e "$Q_SPOOL/sessions/legacy"

check "fsck is clean" q fsck
done_testing
