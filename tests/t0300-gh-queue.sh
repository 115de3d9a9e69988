#!/usr/bin/env bash
# q gh queues GitHub jobs without the network: the args of each command,
# the repository from the git remote, offline references to the job that
# creates an issue, order per issue, writes in one queue per host, no
# token in the job, usage, and an older q leaving GitHub jobs alone.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/gh-lib.sh"
OLDQ=$TOP/tests/q-exec-only
[ -x "$OLDQ" ] || bail_out "$OLDQ is not built (make tests/q-exec-only)"

export Q_GITHUB_API_URL=http://127.0.0.1:9
# Nothing here is sent: no worker of this test finds q-github.
export Q_EXEC_PATH=$scratch/none
TOKEN=ghp-queue-$RANDOM$RANDOM
export GH_TOKEN=$TOKEN GH_ENTERPRISE_TOKEN=$TOKEN-e

# args ID EXPR: EXPR on the job's args (a).
args() {
	q show --json "$1" | py "(lambda a: $2)(j['args'])"
}

# --- usage -------------------------------------------------------------------------

synopsis=$(groff -man -Tascii -rLL=3000n -P-cbou "$QDOC" 2>/dev/null |
	sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | tr -s ' ' | sed 's/^ //')
for c in gh sync; do
	n=0
	while IFS= read -r u; do
		n=$((n + 1))
		check "q help $c: '$u' is in q.1's SYNOPSIS" grep -Fqx -- "$u" <<<"$synopsis"
	done < <(q help "$c" | sed -n -E 's/^(usage|   or): //p' | tr -s ' ')
	[ "$n" -ge 2 ]
	ok $? "q help $c has $n usage lines"
done

# --- the repository --------------------------------------------------------------

mkdir outside
cd outside
run_q gh issue create --title t
is "$rc" 3 "outside a repository, no --repo: exit 3"
like "$err" "not in a git repository: name one with --repo OWNER/REPO" "and says so"
cd ..

make_repo r1 https://github.com/octo/demo.git
make_repo r2 git@github.com:octo/scp-form.git
make_repo r3 ssh://git@ghe.example.com:2222/team/enterprise
git init -q r4
make_repo r5 https://gitlab.example/a
git -C r1 remote add backup https://github.com/else/where.git
git -C r1 commit -q --allow-empty -m init
git -C r1 worktree add -q ../wt 2>/dev/null

cd r1
run_q gh issue create --title "First" --body $'two\nlines' --label bug --label "good first issue" --assignee octocat
is "$rc" 0 "gh issue create exits 0"
like "$out" '^[0-9a-z]{14}$' "and prints a job id"
create=$out
is "$(args "$create" 'a')" \
	'{"op": "issue_create", "api_url": "http://127.0.0.1:9", "repo": "octo/demo", "title": "First", "body": "two\nlines", "labels": ["bug", "good first issue"], "assignees": ["octocat"]}' \
	"its args: op, API, repository from origin, title, body, labels, assignees"
j=$(cat "$(job_file "$create")")
is "$(py '[j["type"], j["queue"], j["queue_max"], j["max_attempts"], j["retry_timeout"], j["after"]]' <<<"$j")" \
	'["github", "github:127.0.0.1:9", 1, 4, true, []]' \
	"type github; writes in one queue per host; 1 + sync.max_retries attempts"
run_q list
like "$out" "$create +pending .*gh issue create octo/demo First" "q list describes it"
cd ../r2
is "$(args "$(q gh issue create -t x)" 'a["repo"]')" "octo/scp-form" "scp-like remote git@github.com:O/R.git"
cd ../r3
unset Q_GITHUB_API_URL
id=$(q gh issue create -t x)
is "$(args "$id" '[a["api_url"], a["repo"]]')" '["https://ghe.example.com/api/v3", "team/enterprise"]' \
	"a GitHub Enterprise remote: https://HOST/api/v3"
is "$(py 'j["queue"]' <"$(job_file "$id")")" "github:ghe.example.com" "and its own queue"
cd ../r1
id=$(q gh issue create -t x --repo ghe.example.com/o/r)
is "$(args "$id" '[a["api_url"], a["repo"]]')" '["https://ghe.example.com/api/v3", "o/r"]' \
	"--repo HOST/OWNER/REPO"
id=$(q gh issue create -t x)
is "$(args "$id" 'a["api_url"]')" "https://api.github.com" "github.com by default"
export Q_GITHUB_API_URL=http://127.0.0.1:9
cd ../r4
run_q gh issue close 3
is "$rc" 3 "a repository without a remote: exit 3"
like "$err" "has no remote" "and says so"
cd ../r5
run_q gh issue close 3
like "$err" "remote 'https://gitlab.example/a' is not a GitHub repository" "a remote that is no GitHub repository"
cd ../wt
is "$(args "$(q gh issue close 3)" 'a["repo"]')" "octo/demo" "a linked worktree uses its repository's remote"
cd ../r1

# --- offline references and order -----------------------------------------------

comment=$(q gh issue comment "$create" --body "more")
close=$(q gh issue close "${create:0:10}" --reason not_planned)
label=$(q gh label add "$create" wontfix)
is "$(args "$comment" '[a["op"], a["issue_job"], a["repo"], a["body"]]')" \
	"[\"issue_comment\", \"$create\", \"octo/demo\", \"more\"]" \
	"a comment on the job that creates the issue names that job"
is "$(q show --json "$comment" | py '[j["state"], j["after"]]')" "[\"waiting\", [\"$create\"]]" \
	"and waits for it"
is "$(q show --json "$close" | py 'j["after"]')" "[\"$create\", \"$comment\"]" \
	"the next job on the issue waits for the one before it too (a prefix will do)"
is "$(q show --json "$label" | py 'j["after"]')" "[\"$create\", \"$close\"]" "and so on"
is "$(args "$close" 'a["state_reason"]')" "not_planned" "close --reason"
is "$(args "$label" '[a["op"], a["label"]]')" '["label_add", "wontfix"]' "label add"

n1=$(q gh issue comment 7 --body a)
n2=$(q gh issue comment '#7' --body b)
n3=$(q gh label remove 8 bug)
is "$(args "$n1" '[a["issue"], "issue_job" in a]')" '[7, false]' "an issue number"
is "$(q show --json "$n2" | py 'j["after"]')" "[\"$n1\"]" "#7 is the same issue: its jobs are ordered"
is "$(q show --json "$n3" | py 'j["after"]')" "[]" "another issue's are not"
edit=$(q gh issue edit 7 --title T2 --add-label a --remove-label b --add-assignee x --remove-assignee y)
is "$(args "$edit" '[a[k] for k in ("title", "add_labels", "remove_labels", "add_assignees", "remove_assignees")]')" \
	'["T2", ["a"], ["b"], ["x"], ["y"]]' "issue edit"

q cancel "$n3" >/dev/null
q cancel "$n1" >/dev/null
n4=$(q gh issue comment 8 --body c)
is "$(q show --json "$n4" | py 'j["after"]')" "[]" "a cancelled job before it is not waited for"

# A reference to a job that will create nothing.
dead=$(q gh issue create -t dead)
q cancel "$dead" >/dev/null
run_q gh issue comment "$dead" --body x
is "$rc" 1 "a comment on a cancelled create: exit 1"
like "$err" "job $dead, which creates the issue, is cancelled: no issue to act on" "and says why"
run_q gh issue comment "$create" --body x --repo octo/other
is "$rc" 2 "--repo that differs from the referenced job's: exit 2"
like "$err" "job $create is about octo/demo on 127.0.0.1:9, not octo/other" "and says so"
run_q gh issue comment "$create" --body x --repo octo/demo --manual
is "$rc" 0 "--repo that agrees is fine"
q cancel "$out" >/dev/null
xid=$(q add -- true)
run_q gh issue comment "$xid" --body x
is "$rc" 2 "a reference to a job that is not GitHub's: exit 2"
like "$err" "job $xid is not a GitHub job" "and says so"

# --- api --------------------------------------------------------------------------

a=$(q gh api get /repos/{owner}/{repo}/issues -f state=all -f per_page=5)
is "$(args "$a" '[a["method"], a["path"], a["fields"], a["api_url"]]')" \
	'["GET", "/repos/octo/demo/issues", {"state": "all", "per_page": "5"}, "http://127.0.0.1:9"]' \
	"gh api: method, {owner}/{repo} filled in, fields"
is "$(py 'j.get("queue")' <"$(job_file "$a")")" "null" "a GET needs no write queue"
printf '{"body": "from a file"}' >input.json
b=$(q gh api PATCH repos/o/r/issues/1 --input input.json)
is "$(args "$b" '[a["path"], a["input"]]')" '["/repos/o/r/issues/1", "{\"body\": \"from a file\"}"]' \
	"gh api --input: the file, sent as it is; a leading / added"
is "$(py 'j["queue"]' <"$(job_file "$b")")" "github:127.0.0.1:9" "a PATCH is a write"

# --- usage errors ------------------------------------------------------------------

bad() {
	local want=$1
	shift
	run_q gh "$@"
	is "$rc" 2 "gh $*: exit 2"
	like "$err" "$want" "gh $*: says why"
}
bad "no command given" 
bad "unknown command 'gh frob'" frob
bad "needs --title" issue create
bad "'gh issue comment' needs --body" issue comment 3
bad "option '--reason' is not one of 'gh issue comment'" issue comment 3 --body x --reason completed
bad "bad reason 'done'" issue close 3 --reason done
bad "takes 2 arguments, not 1" label add 3
bad "bad method 'FETCH'" api FETCH /x
bad "bad path 'https://evil.example/x'" api GET https://evil.example/x
bad "bad path '/repos/a#b'" api GET '/repos/a#b'
bad "bad issue '-1'" issue close -- -1
bad "bad repository 'nope'" issue create -t x --repo nope
bad "bad field 'novalue'" api POST /x -f novalue
bad "exclude each other" issue create -t x --sync --manual
bad "bad title" issue create --title $'a\tb'
bad "'gh issue edit' needs something to change" issue edit 3

# --- secrets ------------------------------------------------------------------------

check "GH_TOKEN is stored nowhere in the spool" no_token_in_spool
! grep -r -q -a -F -- "$TOKEN-e" "$Q_SPOOL"
ok $? "GH_ENTERPRISE_TOKEN neither"
is "$(q show --json "$create" | py '[k for k in j["env_dropped"] if "TOKEN" in k]')" "[]" \
	"the tokens are known secrets, not guesses"

# --- what q-github relies on in any job ------------------------------------------

# A failure whose result says "retry": false fails at once, attempts or not.
cd "$scratch"
perm=$(q add --attempts 3 --backoff 10ms -- sh -c 'printf "{\"error\":\"422\",\"retry\":false}" >"$Q_RESULT"; exit 1')
again=$(q add --attempts 3 --backoff 10ms -- sh -c 'printf "{\"error\":\"502\",\"retry\":true}" >"$Q_RESULT"; exit 1')
ent=$(GITHUB_ENTERPRISE_TOKEN=$TOKEN-ge q add -- sh -c 'echo "$GITHUB_ENTERPRISE_TOKEN" >ent.out')
GITHUB_ENTERPRISE_TOKEN=$TOKEN-worker Q_WORKER_LINGER=5s run_q worker
is "$(q show --json "$perm" | py '[j["status"], j["attempts"], j["result"]["error"]]')" '["failed", 1, "422"]' \
	'"retry": false in a failure'"'"'s result: failed after one attempt of three'
is "$(q show --json "$again" | py '[j["status"], j["attempts"]]')" '["failed", 3]' \
	'"retry": true: all three attempts'
is "$(cat ent.out)" "$TOKEN-worker" "GITHUB_ENTERPRISE_TOKEN comes from the worker, like GH_TOKEN"
! grep -r -q -a -F -- "$TOKEN-ge" "$Q_SPOOL"
ok $? "and the one q add saw is stored nowhere"
q cancel "$ent" >/dev/null 2>&1
cd r1

# --- workers that cannot send ------------------------------------------------------

: >"$Q_SPOOL/spool.log"
Q_BIN=$OLDQ run_q worker --once
check "an older q leaves a GitHub job pending" test -f "$Q_SPOOL/pending/5-$create"
like "$(cat "$Q_SPOOL/spool.log")" "job type 'github' is unknown to this q" "and notes why"
run_q worker --once
check "a worker without q-github leaves it pending" test -f "$Q_SPOOL/pending/5-$create"
like "$(cat "$Q_SPOOL/spool.log")" "no helper '$scratch/none/q-github' for 'github' jobs" "and names the helper"

# The comment queued after the one cancelled on #7 (and the edit after it) fail.
run_q sync status
is "$(head -1 <<<"$out")" "12 pending, 0 syncing, 0 completed, 2 failed, 4 cancelled" "q sync status counts GitHub jobs only"
like "$out" "failed $n2 gh issue comment octo/demo#7: dependency_failed" \
	"a job waiting on a cancelled one on the same issue fails dependency_failed"
run_q sync status --json
is "$(py '[j[k] for k in ("pending", "syncing", "completed", "failed", "cancelled", "hosts")] + [[x["id"], x["error"]] for x in j["jobs"]]' <<<"$out")" \
	"[12, 0, 0, 2, 4, [], [\"$n2\", \"dependency_failed\"], [\"$edit\", \"dependency_failed\"]]" "q sync status --json"

done_testing
