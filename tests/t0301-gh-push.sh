#!/usr/bin/env bash
# GitHub jobs against a fake GitHub: offline work landing in order at
# q push, the headers of every request, the three modes, each command,
# GitHub's errors (for good or retried), being offline, and what
# q sync status and q status show.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/gh-lib.sh"
fake_github
make_repo repo https://github.com/octo/demo.git
cd repo

# --- offline, then q push ----------------------------------------------------------

create=$(q gh issue create --title "Offline bug" --body "Seen on the train." --label bug)
comment=$(q gh issue comment "$create" --body "More detail.")
close=$(q gh issue close "$create" --reason completed)
is "$(requests 'len(l)')" 0 "manual mode: nothing is sent when queuing"
run_q sync status
is "$(head -1 <<<"$out")" "3 pending, 0 syncing, 0 completed, 0 failed" "q sync status: three pending"

Q_SYNC_BATCH_SIZE=2 run_q push
is "$rc" 0 "q push exits 0: all landed"
like "$out" "ok $comment [^
]*
github: 2 sent, 1 to go
ok $close" "a progress line after every sync.batch_size GitHub jobs"
like "$out" "ok $create gh issue create octo/demo 'Offline bug'" "push: a line for the create"
like "$out" "ok $comment gh issue comment octo/demo#\\(job $create\\)" "for the comment"
like "$out" "ok $close gh issue close octo/demo#\\(job $create\\)" "for the close"
is "$(tail -1 <<<"$out")" "3 completed, 0 failed" "push: summary"
is "$(state 'len(s["octo/demo"])')" 1 "one issue exists"
is "$(state '[(i["title"], i["state"], i["state_reason"], [l["name"] for l in i["labels"]], len(i["comments_list"])) for i in s["octo/demo"]]')" \
	'[["Offline bug", "closed", "completed", ["bug"], 1]]' "created with its label, one comment, closed"
is "$(state 's["octo/demo"][0]["body"]')" "Seen on the train.

<!-- q:$create -->" "the body carries the hidden marker"
is "$(state 's["octo/demo"][0]["comments_list"][0]["body"]')" "More detail.

<!-- q:$comment -->" "the comment carries its own"
is "$(requests '[(r["method"], r["path"].split("?")[0]) for r in l]')" \
	'[["POST", "/repos/octo/demo/issues"], ["POST", "/repos/octo/demo/issues/1/comments"], ["PATCH", "/repos/octo/demo/issues/1"]]' \
	"in order: create, comment, close; no search before a first send"
is "$(q result --json "$create" | py 'j["result"]')" \
	'{"repo": "octo/demo", "number": 1, "url": "https://github.example/octo/demo/issues/1", "adopted": false}' \
	"the create's result holds the number"
is "$(q result --json "$comment" | py '[j["result"]["number"], j["result"]["comment_id"] > 0]')" \
	'[1, true]' "the comment's result"
run_q sync status
is "$(head -1 <<<"$out")" "0 pending, 0 syncing, 3 completed, 0 failed" "q sync status: three completed"
like "$out" "127.0.0.1:$FAKE_PORT: 499[0-9] of 5000 requests left until " "and the host's rate limit"

# --- the headers ---------------------------------------------------------------------

is "$(requests 'sorted(set((r["user_agent"], r["accept"], r["version"], r["auth"]) for r in l))')" \
	'[["q/0.1.0 (q-github)", "application/vnd.github+json", "2022-11-28", "ok"]]' \
	"every request: a User-Agent, Accept, X-GitHub-Api-Version 2022-11-28, the token"
Q_GITHUB_API_VERSION=2026-03-10 q gh issue comment 1 --body v --sync >/dev/null
is "$(requests 'l[-1]["version"]')" "2026-03-10" "github.api_version sets the version"

# --- modes -------------------------------------------------------------------------

run_q gh issue comment 1 --body "now" --sync
is "$rc" 0 "--sync exits 0 once GitHub has it"
is "$(sed -n 2p <<<"$out")" "POST /repos/octo/demo/issues/1/comments: 201" "--sync prints the request"
like "$(sed -n 3p <<<"$out")" "^commented on octo/demo#1 https://github.example/octo/demo/issues/1#issuecomment-" \
	"and what became of it"
n=$(state 'len(s["octo/demo"][0]["comments_list"])')
id=$(q gh issue comment 1 --body "later" --async)
wait_for "q result $id" 5
ok $? "--async: a worker of its own sends it"
is "$(state 'len(s["octo/demo"][0]["comments_list"])')" $((n + 1)) "the comment is there"
run_q gh issue comment 1 --body "wait" --manual
sleep 0.2
is "$(state 'len(s["octo/demo"][0]["comments_list"])')" $((n + 1)) "--manual: not sent"
q push >/dev/null

# --- the other commands ------------------------------------------------------------

q gh label add 1 triage --sync >/dev/null
q gh label add 1 later --sync >/dev/null
q gh label remove 1 bug --sync >/dev/null
run_q gh label remove 1 absent --sync
is "$rc" 0 "removing a label the issue does not have is done already"
q gh issue edit 1 --title "Renamed" --body "new body" --add-label docs --remove-label later --add-assignee octocat --sync >/dev/null
is "$(state '[(i["title"], i["body"], sorted(l["name"] for l in i["labels"]), [a["login"] for a in i["assignees"]]) for i in s["octo/demo"]]')" \
	'[["Renamed", "new body", ["docs", "triage"], ["octocat"]]]' "label add, remove; issue edit"
run_q gh api PUT /repos/octo/demo/issues/1/lock --sync
is "$rc" 0 "a bodiless PUT is sent with Content-Length: 0 (GitHub answers 411 without)"
is "$(state '[i["locked"] for i in s["octo/demo"]][0]')" true "and the issue is locked"
q gh api DELETE /repos/octo/demo/issues/1/lock --sync >/dev/null
run_q gh api GET '/repos/{owner}/{repo}/issues/1' --sync
is "$rc" 0 "gh api GET"
is "$(sed -n 3p <<<"$out" | py '[j["number"], j["title"]]')" '[1, "Renamed"]' "--sync prints the response"
id=$(q gh api GET /repos/octo/demo/issues -f state=all -f per_page=1 --sync | head -1)
is "$(q result --json "$id" | py '[j["result"]["status"], len(j["result"]["body"])]')" '[200, 1]' \
	"gh api's result: the status and the body; fields of a GET are its query"
like "$(requests 'l[-1]["path"]')" '^/repos/octo/demo/issues\?state=all&per_page=1$' "the query"
printf '{"state": "open"}' >in.json
q gh api PATCH /repos/octo/demo/issues/1 --input in.json --sync >/dev/null
is "$(state 's["octo/demo"][0]["state"]')" "open" "gh api PATCH --input"

# --- GitHub says no ----------------------------------------------------------------

run_q gh issue comment 99 --body x --sync
is "$rc" 1 "a comment on an issue that does not exist: exit 1"
like "$out" "q-github: POST /repos/octo/demo/issues/99/comments: 404 Not Found" "GitHub's message"
nf=$(head -1 <<<"$out")
is "$(q show --json "$nf" | py '[j["status"], j["attempts"], j["max_attempts"], j["result"]["retry"]]')" \
	'["failed", 1, 4, false]' "404 fails for good after one attempt of four"
id=$(q gh issue create --title x --repo octo/gone)
q push >/dev/null
like "$(q show --json "$id" | py 'j["result"]["error"]')" "410 Issues are disabled for this repo" "410: GitHub's message"
fake POST /_fake/faults '[{"method": "POST", "path": "/issues$", "kind": "status", "status": 422, "message": "Validation Failed"}]' >/dev/null
inv=$(q gh issue create --title x)
q push >/dev/null
is "$(q show --json "$inv" | py '[j["status"], j["attempts"]]')" '["failed", 1]' "422 fails for good"

run_q sync status
is "$(head -1 <<<"$out")" "0 pending, 0 syncing, 17 completed, 3 failed" "q sync status counts the failures"
like "$out" "failed $nf gh issue comment octo/demo#99: POST /repos/octo/demo/issues/99/comments: 404 Not Found" \
	"with each one's last error"
run_q status
like "$out" "github: 3 failed \\(q sync status\\)" "q status says GitHub jobs failed"
is "$(q status --json | py 'j["github_failed"]')" 3 "q status --json too"

# q sync retry: the 422 was GitHub's once; the 404 and 410 stay.
run_q sync retry --all
is "$out" "3 GitHub jobs to send again" "q sync retry --all puts the three back"
q push >/dev/null
is "$(q show --json "$inv" | py 'j["status"]')" "completed" "the one GitHub takes now lands"
is "$(q show --json "$nf" | py '[j["status"], j["attempts"]]')" '["failed", 1]' "the 404 fails again"
run_q sync retry "$create"
is "$rc" 1 "q sync retry of a completed job: exit 1"
like "$err" "job $create is completed: only failed or deferred GitHub jobs are sent again" "and says why"
run_q sync retry "$nf"
is "$(q show --json "$nf" | py '[j["state"], j["attempts"]]')" '["pending", 0]' "q sync retry ID puts one back"
q cancel "$nf" >/dev/null

# 5xx: tried again with backoff, and then it lands.
fake POST /_fake/faults '[{"method": "POST", "path": "/comments$", "kind": "status", "status": 500, "times": 1},
	{"method": "POST", "path": "/comments$", "kind": "status", "status": 502, "times": 1},
	{"method": "POST", "path": "/comments$", "kind": "status", "status": 503, "times": 1}]' >/dev/null
id=$(q gh issue comment 1 --body "third time")
q worker --once >/dev/null 2>&1
run_q status
like "$out" "github: 1 retrying after errors \\(q sync status\\)" "q status shows a send being retried"
run_q sync status
like "$out" "retrying $id gh issue comment octo/demo#1: POST /repos/octo/demo/issues/1/comments: 500 fault" \
	"q sync status its last error"
Q_WORKER_LINGER=10s run_q push
is "$rc" 0 "500, 502, 503, then 201 (four attempts: 1 + sync.max_retries): push exits 0"
like "$out" "wait $id .* exit 1, will retry" "push says it will retry"
is "$(q show --json "$id" | py '[j["status"], j["attempts"], [h["exit_code"] for h in j["history"]]]')" \
	'["completed", 4, [1, 1, 1, 0]]' "four attempts"
like "$(q log "$id")" "POST /repos/octo/demo/issues/1/comments: 502 fault" "the log has each attempt's answer"
is "$(state 'sum(c["body"].startswith("third time") for c in s["octo/demo"][0]["comments_list"])')" 1 \
	"and one comment: a 5xx without the write behind it is sent again"

# sync.auto_retry false: a 5xx fails the job; q sync retry sends it again.
faults '[{"method": "POST", "path": "/comments$", "kind": "status", "status": 502}]'
id=$(Q_SYNC_AUTO_RETRY=false q gh issue comment 1 --body "no retries")
Q_WORKER_LINGER=10s run_q push
is "$rc" 1 "sync.auto_retry false: a 502 fails the push"
is "$(q show --json "$id" | py '[j["status"], j["attempts"], j["max_attempts"]]')" '["failed", 1, 1]' \
	"after its one attempt"
q sync retry "$id" >/dev/null
run_q push
is "$(q show --json "$id" | py 'j["status"]')" "completed" "q sync retry sent it again"

# --- offline -----------------------------------------------------------------------

# A port nothing listens on, until a second fake GitHub takes it.
P=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
P2=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
port=$FAKE_PORT
export Q_GITHUB_API_URL=http://127.0.0.1:$P
off=$(q gh issue create --title "while offline")
offc=$(q gh issue comment "$off" --body "on the way")
run_q push
is "$rc" 1 "offline: q push exits 1"
like "$out" "unsent $off gh issue create octo/demo 'while offline': deferred" "and names what it could not send"
like "$out" "unsent $offc gh issue comment octo/demo#\\(job $off\\): waiting" "and what waits for it"
is "$(tail -1 <<<"$out")" "0 completed, 0 failed, 2 unsent" "summary"
run_q push
is "$(q show --json "$off" | py '[j["state"], j["attempts"], [h["error"] for h in j["history"]]]')" \
	'["deferred", 0, ["tempfail", "tempfail"]]' "two pushes offline spend no attempt"
like "$(q log "$off")" "q-github: offline: POST /repos/octo/demo/issues: " "the log says offline"
run_q sync status
is "$(head -1 <<<"$out")" "2 pending, 0 syncing, 20 completed, 1 failed, 1 cancelled" "q sync status: two pending"

"$PY" "$TEST_DIR/fake-github.py" --token "$TOKEN" --port "$P" >"$scratch/fake2.port" 2>&1 &
disown
wait_for "[ -s '$scratch/fake2.port' ]" 10
run_q push
is "$rc" 0 "back online: q push sends them and exits 0"
FAKE_PORT=$P
is "$(state '[(i["title"], len(i["comments_list"])) for i in s["octo/demo"]]')" '[["while offline", 1]]' \
	"the issue and its comment landed"
FAKE_PORT=$port
export Q_GITHUB_API_URL=http://127.0.0.1:$port

# --sync that cannot send now returns at once, the job queued (a detached
# worker sends it later: cancelled here).
Q_GITHUB_API_URL=http://127.0.0.1:$P2 run_q gh issue comment 1 --body "sync while offline" --sync
is "$rc" 5 "offline: --sync exits 5 at once, the job queued"
like "$err" "not sent yet" "and says so"
q cancel "$(head -1 <<<"$out")" >/dev/null

check "the token is nowhere in the spool" no_token_in_spool

done_testing
