#!/usr/bin/env bash
# Rate limits (primary, secondary with and without retry-after), a host
# that wants a token, redirects (never the token to another host), writes
# spaced out and one at a time per host.  Waits are a few seconds: the
# fake's limits are short, and the minute-long waits of a secondary
# limit are checked on the recorded state, then moved back by hand (a
# fake clock).
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/gh-lib.sh"
fake_github
HOST=127.0.0.1:$FAKE_PORT
STATE=$Q_SPOOL/github/$HOST.json

# host EXPR: EXPR on the host's state file (h), with now in seconds.
host() {
	"$PY" -c '
import json, sys, time, datetime
def t(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() if s else None
h = json.load(open(sys.argv[2])); now = time.time()
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))' "$1" "$STATE"
}
# unblock: the fake clock: the host's block ends now (its count of secondary limits stays).
unblock() {
	"$PY" -c '
import json, sys
h = json.load(open(sys.argv[1])); h["blocked_until"] = "2000-01-01T00:00:00.000Z"
open(sys.argv[1], "w").write(json.dumps(h))' "$STATE"
}
n_requests() {
	requests 'len(l)'
}

# --- primary: the last request the budget allowed ------------------------------------------

fake POST /_fake/ratelimit '{"limit": 3, "remaining": 1, "reset_in": 2}' >/dev/null
a=$(q gh issue create --repo octo/p --title one)
b=$(q gh issue create --repo octo/p --title two)
run_q push
is "$rc" 1 "remaining 0 after the first: push exits 1"
is "$(n_requests)" 1 "one request sent"
reset=$(host 't(h["reset"])')
is "$(host '[h["remaining"], h["limit"], t(h["blocked_until"]) - t(h["reset"]), h["blocked_reason"]]')" \
	'[0, 3, 1.0, "primary rate limit: 0 of 3 requests left"]' \
	"the host is blocked until x-ratelimit-reset (and a second)"
is "$(q show --json "$b" | py '[j["state"], j["attempts"]]')" '["deferred", 0]' \
	"the second waits without spending an attempt"
like "$(q log "$b")" "q-github: 127.0.0.1:$FAKE_PORT is rate limited until .*; nothing sent" "its log says why"
run_q sync status
like "$out" "$HOST: rate limited until [^ ]+ \\(primary rate limit: 0 of 3 requests left\\)" "q sync status shows it"
run_q status
like "$out" "github: $HOST: rate limited until " "q status too"
run_q push
is "$(n_requests)" 1 "another push before the reset sends nothing"
like "$out" "unsent $b .*: deferred, $HOST rate limited until " "and says why"
Q_WORKER_LINGER=10s run_q push
is "$rc" 0 "a push that waits for the reset sends it"
first_after=$(requests '[r["t"] for r in l][1]')
"$PY" -c "import sys; sys.exit(0 if $first_after >= $reset else 1)"
ok $? "nothing went before the reset ($first_after >= $reset)"
fake POST /_fake/ratelimit '{"limit": 5000, "remaining": 5000, "reset_in": 3600}' >/dev/null

# --- primary: 403 and 429 with remaining 0 --------------------------------------------------

faults '[{"method": "POST", "path": "/issues$", "kind": "primary", "status": 429, "reset_in": 1}]'
c=$(q gh issue create --repo octo/p --title three)
before=$(n_requests)
Q_WORKER_LINGER=10s run_q push
is "$rc" 0 "429 with remaining 0: sent again after the reset"
is "$(q show --json "$c" | py '[j["attempts"], [h["error"] for h in j["history"]]]')" '[1, ["tempfail", null]]' \
	"the limited attempt cost nothing"
is "$(requests "[r['status'] for r in l[$before:]]")" '[429, 201]' "one 429, then nothing until the reset"

# --- secondary with retry-after ---------------------------------------------------------------

faults '[{"method": "POST", "path": "/issues$", "kind": "secondary", "retry_after": 1}]'
d=$(q gh issue create --repo octo/p --title four)
before=$(n_requests)
Q_WORKER_LINGER=10s run_q push
is "$rc" 0 "403 secondary with retry-after: sent after it"
gap=$(requests "round(l[$before + 1]['t'] - l[$before]['t'], 1)")
"$PY" -c "import sys; sys.exit(0 if $gap >= 1.0 else 1)"
ok $? "not before retry-after (${gap} s)"

# --- secondary without retry-after: a minute, doubled ---------------------------------------

faults '[{"method": "POST", "path": "/issues$", "kind": "secondary", "status": 429, "times": 2}]'
e=$(q gh issue create --repo octo/p --title five)
run_q push
is "$rc" 1 "a secondary limit without retry-after: push exits 1"
is "$(host '[round(t(h["blocked_until"]) - now), h["secondary_limits"]]')" '[60, 1]' "blocked for a minute"
like "$(host 'h["blocked_reason"]')" "^secondary rate limit: 429 You have exceeded a secondary rate limit" \
	"with GitHub's message"
wait_s=$(q show --json "$e" | py '(__import__("datetime").datetime.fromisoformat(j["run_at"].replace("Z", "+00:00")).timestamp() - __import__("time").time())')
"$PY" -c "import sys; sys.exit(0 if 55 < $wait_s <= 61 else 1)"
ok $? "the job waits that minute (${wait_s%.*} s)"
before=$(n_requests)
run_q push
is "$(n_requests)" "$before" "a push meanwhile sends nothing"
unblock
run_q push
is "$(host '[round(t(h["blocked_until"]) - now), h["secondary_limits"]]')" '[120, 2]' \
	"a second one in a row: two minutes"
unblock
run_q push
is "$rc" 0 "then it lands"
is "$(host 'h["secondary_limits"]')" 0 "and the count starts over"
is "$(q show --json "$e" | py 'j["attempts"]')" 1 "limits cost no attempts"

# --- 401: the host's jobs wait for a token ------------------------------------------------------

unset GH_ENTERPRISE_TOKEN
export GH_TOKEN=$TOKEN
f=$(q gh issue create --repo octo/p --title six)
g=$(q gh issue comment "$f" --body "after six")
before=$(n_requests)
run_q push
is "$rc" 1 "no token for this host: push exits 1"
is "$(requests "[(r['auth'], r['status']) for r in l[$before:]]")" '[["none", 401]]' \
	"GH_TOKEN (github.com's) was not sent to another host; GitHub said 401"
like "$(host 'h["needs_token"]')" "needs a token: GitHub answered POST /repos/octo/p/issues with 401 Requires authentication; set GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN" \
	"the host is parked with why"
run_q sync status
like "$out" "$HOST: $HOST needs a token" "q sync status says so"
run_q status
like "$out" "github: $HOST: $HOST needs a token" "q status too"
run_q push
is "$(n_requests)" $((before + 1)) "pushing again without a token sends nothing"
GITHUB_ENTERPRISE_TOKEN=wrong run_q push
is "$(requests "[(r['auth'], r['status']) for r in l[$before + 1:]]")" '[["bad", 401]]' \
	"a push with a (wrong) token tries once"
like "$(host 'h["needs_token"]')" "401 Bad credentials" "Bad credentials"
GITHUB_ENTERPRISE_TOKEN=$TOKEN run_q push
is "$rc" 0 "with the token, push sends both"
is "$(requests "[(r['method'], r['status']) for r in l[-2:]]")" '[["POST", 201], ["POST", 201]]' "issue and comment"
export GH_ENTERPRISE_TOKEN=$TOKEN
unset GH_TOKEN

# --- redirects ---------------------------------------------------------------------------------

faults '[{"method": "GET", "path": "/repos/octo/moved/issues/1$", "kind": "redirect", "status": 301}]'
h=$(q gh api GET /repos/octo/moved/issues/1)
faults '[{"method": "POST", "path": "/repos/octo/moved/issues$", "kind": "redirect", "status": 307}]'
i=$(q gh issue create --repo octo/moved --title seven)
run_q push
is "$(fake GET /_fake/other)" "[]" "nothing reached the other host: no token left the API's host"
like "$(q show --json "$h" | py 'j["result"]["error"]')" \
	"GET /repos/octo/moved/issues/1: 301 to http://127.0.0.1:$OTHER_PORT/repos/octo/moved/issues/1: not followed, the token goes only to http://127.0.0.1:$FAKE_PORT" \
	"a 301 to another host is not followed"
is "$(q show --json "$i" | py '[j["status"], j["attempts"]]')" '["failed", 1]' "nor a 307 of a write"
faults "[{\"method\": \"GET\", \"path\": \"/repos/octo/old/issues/1$\", \"kind\": \"redirect\", \"status\": 301, \"to\": \"http://127.0.0.1:$FAKE_PORT/repos/octo/p/issues/1\"}]"
run_q gh api GET /repos/octo/old/issues/1 --sync
is "$rc" 0 "a 301 of a GET within the host is followed"
like "$out" '"title": "one"' "to the issue"
faults "[{\"method\": \"PATCH\", \"path\": \"/repos/octo/old/issues/1$\", \"kind\": \"redirect\", \"status\": 302, \"to\": \"http://127.0.0.1:$FAKE_PORT/repos/octo/p/issues/1\"}]"
run_q gh issue close 1 --repo octo/old --sync
is "$rc" 1 "a 302 of a write is not followed (it would turn into a GET)"
like "$out" "PATCH /repos/octo/old/issues/1: 302 to .*: not followed for a write" "and says so"

# --- writes: spaced, one at a time ---------------------------------------------------------------

export Q_GITHUB_WRITE_INTERVAL=300ms
for k in 1 2 3; do
	q gh issue create --repo octo/s --title "spaced $k" >/dev/null
done
before=$(n_requests)
run_q push
gaps=$(requests "[round(b['t'] - a['t'], 2) for a, b in zip(l[$before:], l[$before + 1:])]")
# The fake stamps each request as it reads it, so a loaded machine's
# scheduling shifts a gap by tens of ms either way; unspaced writes would
# come about 30 ms apart.
"$PY" -c "import sys; sys.exit(0 if min($gaps) >= 0.2 else 1)"
ok $? "writes to a host about github.write_interval (300 ms) apart: $gaps"
export Q_GITHUB_WRITE_INTERVAL=0

faults '[{"method": "POST", "path": "/repos/octo/w/issues$", "kind": "delay", "seconds": 0.15, "times": 6}]'
for k in 1 2 3 4 5 6; do
	q gh issue create --repo octo/w --title "one at a time $k" >/dev/null
done
q_bg w1 worker -j 3
p1=$bg_pid
q_bg w2 worker -j 3
p2=$bg_pid
wait_gone 20 "$p1" "$p2"
is "$(fake GET /_fake/state | py 'len(j["octo/w"])')" 6 "two workers of three jobs each sent all six"
is "$(fake GET /_fake/stats | py 'j["max_inflight_writes"]')" 1 "never two writes to the host at once"

# --- no token in clear text ------------------------------------------------------------

# Plain http to another machine: nothing is sent (so nothing resolves it).
id=$(Q_GITHUB_API_URL=http://gh.example.invalid q gh issue comment 1 --repo octo/demo --body clear)
run_q push
like "$(q show --json "$id" | py 'j["result"]["error"]')" "plain http to gh.example.invalid; a token goes over https only" \
	"a token never goes over plain http to another machine"
run_q sync retry "$id"
q cancel "$id" >/dev/null

check "the token is nowhere in the spool" no_token_in_spool

done_testing
