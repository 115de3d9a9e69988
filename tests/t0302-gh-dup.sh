#!/usr/bin/env bash
# Never a duplicate: a create whose answer was lost (a timeout after
# GitHub committed it, a reset connection, a 502 with the write behind
# it, a worker killed mid-request) is looked for by its marker before it
# is sent again, through the list's pages, and adopted when found.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/gh-lib.sh"
fake_github
export Q_GITHUB_TIMEOUT=1s Q_WORKER_LINGER=10s

# count REPO PREFIX: issues of REPO whose title starts with PREFIX.
count() {
	state "sum(i['title'].startswith('$2') for i in s.get('$1', []))"
}

# --- the answer to a create is lost after GitHub made the issue --------------------

faults '[{"method": "POST", "path": "/repos/octo/a/issues$", "kind": "hang_after_commit", "seconds": 3}]'
id=$(q gh issue create --repo octo/a --title "timed out")
run_q push
is "$rc" 0 "a create that timed out after the commit: push exits 0"
is "$(count octo/a "timed out")" 1 "exactly one issue"
is "$(q show --json "$id" | py '[j["attempts"], j["result"]["number"], j["result"]["adopted"]]')" \
	'[2, 1, true]' "the second attempt found it by its marker and adopted its number"
is "$(requests '[(r["method"], r["path"].split("?")[0]) for r in l if "/octo/a/" in r["path"]]')" \
	'[["POST", "/repos/octo/a/issues"], ["GET", "/repos/octo/a/issues"]]' \
	"it looked through the list instead of sending it again"
like "$(requests '[r["path"] for r in l if r["method"] == "GET"][-1]')" \
	'state=all&sort=created&direction=asc&per_page=100&since=[0-9-]+T[0-9:]+Z$' \
	"the list of every state, since the job was queued (less a minute)"
like "$(q log "$id")" "found \\(created by an earlier attempt\\) octo/a#1" "the log says so"

# --- a reset connection after the comment was made ------------------------------------

q gh issue create --repo octo/b --title "host" --sync >/dev/null
faults '[{"method": "POST", "path": "/comments$", "kind": "reset_after_commit"}]'
id=$(q gh issue comment 1 --repo octo/b --body "once")
run_q push
is "$rc" 0 "a comment whose connection was reset after the commit: push exits 0"
is "$(state 'len(s["octo/b"][0]["comments_list"])')" 1 "exactly one comment"
is "$(q show --json "$id" | py '[j["attempts"], j["result"]["adopted"]]')" '[2, true]' "adopted"

# --- reset before anything was done: sent again ----------------------------------------

faults '[{"method": "POST", "path": "/repos/octo/c/issues$", "kind": "reset"}]'
id=$(q gh issue create --repo octo/c --title "reset early")
run_q push
is "$(count octo/c "reset early")" 1 "a create reset before the commit: one issue"
is "$(q show --json "$id" | py '[j["attempts"], j["result"]["adopted"]]')" '[2, false]' \
	"the second attempt found no marker and sent it"

# --- a 502 with the write behind it -------------------------------------------------------

faults '[{"method": "POST", "path": "/repos/octo/d/issues$", "kind": "status", "status": 502, "commit": true}]'
id=$(q gh issue create --repo octo/d --title "bad gateway")
run_q push
is "$(count octo/d "bad gateway")" 1 "a 502 after the commit: one issue"
is "$(q show --json "$id" | py 'j["result"]["adopted"]')" true "adopted"

# --- the marker on the second page, a pull request carrying it skipped ---------------------

id=$(q gh issue create --repo octo/pages --title "paged")
seed=$(printf '{"title": "old %d", "body": "no marker"},' $(seq 150))
fake POST /_fake/seed "{\"repo\": \"octo/pages\", \"issues\": [${seed%,}, {\"title\": \"a pull request\", \"body\": \"<!-- q:$id -->\", \"pull_request\": true}]}" >/dev/null
faults '[{"method": "POST", "path": "/repos/octo/pages/issues$", "kind": "hang_after_commit", "seconds": 3}]'
run_q push
is "$(count octo/pages paged)" 1 "one issue among 152"
is "$(q show --json "$id" | py '[j["result"]["number"], j["result"]["adopted"]]')" '[152, true]' \
	"found on the second page (Link rel=next); the pull request with the marker was passed over"
is "$(requests 'len([r for r in l if r["method"] == "GET" and "/octo/pages/" in r["path"]])')" 2 \
	"two pages read"

# --- a worker killed while its request hung ------------------------------------------------

faults '[{"method": "POST", "path": "/repos/octo/e/issues$", "kind": "hang_after_commit", "seconds": 5}]'
id=$(Q_GITHUB_TIMEOUT=10s q gh issue create --repo octo/e --title "killed")
q_bg w1 worker
wait_for "[ \"\$(count octo/e killed)\" = 1 ]" 5
ok $? "the write reached GitHub"
kill -KILL "$bg_pid"
wait_gone 5 "$bg_pid"
# Its supervisor lets go of the job once the helper is dead too.
wait_for "flock -n '$Q_SPOOL/running/$id' true" 5
run_q push
is "$(count octo/e killed)" 1 "after its worker was killed mid-request: one issue"
is "$(q show --json "$id" | py '[j["status"], j["interrupts"], j["result"]["adopted"]]')" \
	'["completed", 1, true]' "the interrupted attempt cost nothing; the next adopted the issue"

# --- gh api: a POST cannot be told apart, so it is not sent twice --------------------------

faults '[{"method": "POST", "path": "/repos/octo/f/issues$", "kind": "hang_after_commit", "seconds": 3}]'
id=$(q gh api POST /repos/octo/f/issues -f title=raw)
run_q push
is "$rc" 1 "gh api POST with a lost answer: push exits 1"
is "$(q show --json "$id" | py '[j["status"], j["attempts"], j["result"]["retry"]]')" '["failed", 1, false]' \
	"it fails after one attempt"
like "$(q show --json "$id" | py 'j["result"]["error"]')" "GitHub may have acted on it; not sent again by itself" \
	"and says why"
is "$(count octo/f raw)" 1 "one issue"

# ... nor after its worker was killed mid-request; q sync retry sends it.
faults '[{"method": "POST", "path": "/repos/octo/g/issues$", "kind": "hang_after_commit", "seconds": 5}]'
id=$(Q_GITHUB_TIMEOUT=10s q gh api POST /repos/octo/g/issues -f title=rawkilled)
q_bg w2 worker
wait_for "[ \"\$(count octo/g rawkilled)\" = 1 ]" 5
ok $? "the raw POST reached GitHub"
kill -KILL "$bg_pid"
wait_gone 5 "$bg_pid"
wait_for "flock -n '$Q_SPOOL/running/$id' true" 5
run_q push
is "$rc" 1 "gh api POST whose worker died: push exits 1"
is "$(count octo/g rawkilled)" 1 "not sent again: one issue"
like "$(q show --json "$id" | py 'j["result"]["error"]')" "an earlier attempt may have sent it" \
	"the job says why"
q sync retry "$id" >/dev/null
run_q push
is "$(q show --json "$id" | py 'j["status"]')" completed "q sync retry sends it again"
is "$(count octo/g rawkilled)" 2 "(as asked: a second issue)"

check "the token is nowhere in the spool" no_token_in_spool

done_testing
