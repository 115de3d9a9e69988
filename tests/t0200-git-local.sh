#!/usr/bin/env bash
# q git with local repositories (paths and file://): what q git queues,
# and clone, fetch, pull, push and worktrees run by q-git.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/git-lib.sh"

make_origin origin

# --- the command line -----------------------------------------------------------

synopsis=$(groff -man -Tascii -rLL=3000n -P-cbou "$QDOC" 2>/dev/null |
	sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | tr -s ' ' | sed 's/^ //')
run_q help git
n=0
while IFS= read -r line; do
	line=$(sed -E 's/^(usage|   or): //' <<<"$line" | tr -s ' ')
	n=$((n + 1))
	check "q.1's SYNOPSIS has: $line" grep -Fqx -- "$line" <<<"$synopsis"
done < <(grep -E '^(usage|   or): ' <<<"$out")
is "$n" 6 "q help git shows six usage lines"

run_q git clone origin.git --manual
is "$rc" 0 "q git clone exits 0"
like "$out" '^[0-9a-z]{14}$' "and prints a job id"
c=$out
is "$(result "$c" 'j["args"]')" \
	"{\"op\": \"clone\", \"url\": \"$scratch/origin.git\", \"dir\": \"$scratch/origin\"}" \
	"clone: the URL and the directory are made absolute, the directory named after the URL"
jf=$(job_file "$c")
is "$(jpy '[j["queue"], j["queue_max"]]' <"$jf")" "[\"git:$scratch/origin\", 1]" \
	"clone: one job at a time in the new directory"
is "$(jpy '[j["timeout_ms"], j["max_attempts"], j["retry_timeout"]]' <"$jf")" '[600000, 3, true]' \
	"git jobs default to a 10m limit, 3 attempts, and retry a timeout"
run_q git clone origin.git x --timeout 5s --attempts 1 -p high -b feature --manual
jf=$(job_file "$out")
is "$(jpy '[j["timeout_ms"], j["max_attempts"], j["priority"], j["args"]["branch"]]' <"$jf")" \
	'[5000, 1, 2, "feature"]' "job options and --branch, after the operands"
run_q show "$c"
like "$out" "command +git clone $scratch/origin.git $scratch/origin" "show describes a clone"
q cancel "$c" >/dev/null
q cancel "$(q list --state pending | cut -d' ' -f1)" >/dev/null

run_q git clone origin.git newdir/ --manual
is "$(result "$out" 'j["args"]["dir"]')" "$scratch/newdir" "a directory given as DIR/ is DIR"
q cancel "$out" >/dev/null

# A repository deep enough that "git:PATH" passes the 200 bytes of a queue
# name: the name keeps the path's end and a hash of all of it.
deep=$scratch/$(printf 'd%.0s' {1..120})/$(printf 'e%.0s' {1..120})
mkdir -p "$deep" && git_id init -q "$deep"
run_q -C "$deep" git fetch --manual
is "$rc" 0 "a job on a repository with a long path is queued"
queue=$(jpy 'j["queue"]' <"$(job_file "$out")")
[ "${#queue}" -le 200 ]
ok $? "its queue name has at most 200 bytes (${#queue})"
like "$queue" "^git:.*eeeeeeee~[0-9a-f]{16}$" "and ends with the path's end and a hash"
q cancel "$out" >/dev/null

run_q git clone https://x-access-token:ghp_secret@github.com/o/r.git --manual
is "$rc" 2 "a URL with a password is refused (exit 2)"
like "$err" "password" "and says why"
check "no job file holds the password" sh -c "! grep -rq ghp_secret '$Q_SPOOL'"
run_q git frob
is "$rc" 2 "an unknown subcommand is a usage error"
run_q git fetch --branch x
is "$rc" 2 "--branch is for clone only"
run_q git fetch a b
is "$rc" 2 "too many operands"
run_q git worktree add
is "$rc" 2 "worktree add needs a path"
mkdir plain
run_q -C plain git fetch --manual
is "$rc" 2 "fetch outside a repository: exit 2"
like "$err" "not in a git repository" "and says so"

# --- clone ------------------------------------------------------------------------

run_q git clone --sync origin.git c1
is "$rc" 0 "clone --sync completes"
id=${out%%$'
'*}
is "$(cat c1/a.txt)" one "the clone has the files"
is "$(result "$id" '[j["result"]["branch"], j["result"]["head"], j["result"]["dir"]]')" \
	"[\"main\", \"$(git -C origin.git rev-parse main)\", \"$scratch/c1\"]" \
	"the result names the branch, the new HEAD and the directory"
is "$(result "$id" '[j["progress"]["pct"], j["history"][0]["exit_code"]]')" '[100, 0]' \
	"progress ends at 100%"
check "no staging directory is left beside it" test -z "$(ls -A . | grep q-clone)"

run_q git clone --sync -b feature "file://$scratch/origin.git" c2
is "$rc" 0 "clone of a file:// URL with --branch"
is "$(git -C c2 symbolic-ref --short HEAD)" feature "the branch asked for is checked out"

run_q git clone --sync origin.git c1
is "$rc" 1 "clone into a directory that is not empty fails"
id=${out%%$'
'*}
like "$(result "$id" 'j["result"]["error"]')" "exists and is not an empty directory" \
	"and says why"
is "$(result "$id" 'len(j["history"])')" 1 "a permanent failure is not tried again"
run_q git clone --sync "$scratch/nothing-here.git" c3
is "$rc" 1 "clone of a path that does not exist fails"
check "at once, without a directory" test ! -e c3

# An attempt stopped just after the rename left the clone done: the next
# attempt of the same job finds it (the clone names its job in .git/q-job).
run_q git clone origin.git c4 --manual
id=$out
git_id clone -q origin.git c4 2>/dev/null
printf %s "$id" >c4/.git/q-job
run_q worker --once
is "$(result "$id" 'j["status"]')" completed "a clone its own job made before counts as done"
like "$(q log "$id")" "cloned by an earlier attempt of this job" "and the log says so"
run_q git clone --sync origin.git c4
is "$rc" 1 "another job's clone into it fails"

# --- fetch and pull -------------------------------------------------------------------

seed_commit two
new=$(git -C origin.git rev-parse main)
old=$(git -C c1 rev-parse main)
run_q -C c1 git fetch --sync
is "$rc" 0 "fetch completes"
id=${out%%$'
'*}
is "$(git -C c1 rev-parse origin/main)" "$new" "origin/main moved"
is "$(result "$id" '[r for r in j["result"]["refs"] if r["ref"] == "refs/remotes/origin/main"]')" \
	"[{\"ref\": \"refs/remotes/origin/main\", \"old\": \"$old\", \"new\": \"$new\"}]" \
	"the result lists the updated ref with its old and new ids"
is "$(result "$id" '[j["args"]["repo"], j["result"]["remote"]]')" "[\"$scratch/c1\", \"origin\"]" \
	"the repository is the one around the current directory; the remote defaults to origin"

seed_commit three
new=$(git -C origin.git rev-parse main)
run_q -C c1 git pull --sync
is "$rc" 0 "pull completes"
id=${out%%$'
'*}
is "$(git -C c1 rev-parse HEAD)" "$new" "HEAD fast-forwarded"
is "$(tail -1 c1/a.txt)" three "and the work tree with it"
is "$(result "$id" '[j["result"]["fast_forward"], j["result"]["head"], j["result"]["old"]]')" \
	"[true, \"$new\", \"$old\"]" "the result: fast-forward, new and old HEAD"
check "git sees a clean work tree" test -z "$(git -C c1 status --porcelain)"
run_q -C c1 git pull --sync
id=${out%%$'
'*}
is "$(result "$id" 'j["result"]["fast_forward"]')" false "pulling again: up to date"

# Diverged: never a merge.
seed_commit four
(cd c1 && echo local >local.txt && git_id add local.txt && git_id commit -q -m local)
mine=$(git -C c1 rev-parse HEAD)
run_q -C c1 git pull --sync
is "$rc" 1 "a pull that is not a fast-forward fails"
id=${out%%$'
'*}
like "$(result "$id" 'j["result"]["error"]')" "diverged.*only fast-forwards" "and says so"
is "$(git -C c1 rev-parse HEAD)" "$mine" "HEAD did not move"
is "$(git -C c1 rev-list --count --merges HEAD)" 0 "no merge was made"
is "$(result "$id" 'len(j["history"])')" 1 "and it is not tried again"

# --- push -----------------------------------------------------------------------------

git_id clone -q origin.git p1 2>/dev/null
local_commit p1 pushed
run_q -C p1 git push --sync
is "$rc" 0 "push completes"
id=${out%%$'
'*}
is "$(git -C origin.git rev-parse main)" "$(git -C p1 rev-parse HEAD)" "the remote's main moved"
is "$(result "$id" '[r for r in j["result"]["refs"] if "status" in r]')" \
	'[{"ref": "refs/heads/main", "status": "ok"}]' "the result lists the pushed ref"
git -C p1 branch topic
run_q -C p1 git push --sync origin topic main:pushed-main
is "$rc" 0 "push of named refspecs"
is "$(git -C origin.git rev-parse topic pushed-main | sort -u | wc -l)" 1 "both refs arrived"

git -C p1 checkout -q --detach
run_q -C p1 git push --sync
is "$rc" 1 "a push from a detached HEAD without a refspec fails"
like "$(result "$(first)" 'j["result"]["error"]')" "not on a branch" "and says so"
run_q -C p1 git push --sync origin HEAD:from-detached
is "$rc" 0 "HEAD:BRANCH from a detached HEAD pushes"
is "$(git -C origin.git rev-parse from-detached)" "$(git -C p1 rev-parse HEAD)" "to that branch"
git -C p1 checkout -q main

run_q -C c1 git push --sync origin main
is "$rc" 1 "a push that is not a fast-forward fails"
id=${out%%$'
'*}
like "$(result "$id" 'j["result"]["error"]')" "not a fast-forward" "and says so"
is "$(result "$id" 'len(j["history"])')" 1 "and it is not tried again"

# --- worktrees ----------------------------------------------------------------------------

run_q -C c2 git worktree add ../wt1 --sync
is "$rc" 0 "worktree add completes"
id=${out%%$'
'*}
is "$(git -C wt1 symbolic-ref --short HEAD)" wt1 "on a new branch named after the path"
is "$(result "$id" '[j["result"]["path"], j["result"]["branch"], j["result"]["created_branch"]]')" \
	"[\"$scratch/wt1\", \"wt1\", true]" "the result: path, branch, created"
is "$(cat wt1/f.txt)" feature "the work tree is checked out"

git -C c2 branch -q topic origin/main
run_q -C wt1 git worktree add ../wt2 topic --sync
is "$rc" 0 "worktree add of an existing branch, queued from inside a worktree"
is "$(git -C wt2 rev-parse HEAD)" "$(git -C c2 rev-parse topic)" "it is on that branch"
id=${out%%$'
'*}
is "$(result "$id" '[j["args"]["repo"], j["result"]["created_branch"]]')" "[\"$scratch/wt1\", false]" \
	"the repository was the worktree; no branch was made"
is "$(jpy 'j["queue"]' <"$(job_file "$id")")" "git:$scratch/c2" \
	"a worktree's jobs share the queue of its main repository"

run_q -C c2 git worktree add ../wt3 topic --sync
is "$rc" 1 "a branch checked out in another worktree: fails"
id=${out%%$'
'*}
like "$(result "$id" 'j["result"]["error"]')" "branch 'topic' is already checked out at '$scratch/wt2'" \
	"and says where"
check "nothing was made" test ! -e wt3 -a ! -e c2/.git/worktrees/wt3
run_q -C c2 git worktree add ../wt3 feature --sync
like "$(result "$(first)" 'j["result"]["error"]')" "branch 'feature' is already checked out at '$scratch/c2'" \
	"the main worktree's branch too"

echo dirt >wt1/new.txt
run_q -C c2 git worktree remove ../wt1 --sync
is "$rc" 1 "remove of a worktree with an untracked file fails"
like "$(result "$(first)" 'j["result"]["error"]')" "1 file is changed or untracked" "and says why"
check "and leaves it" test -e wt1/new.txt
rm wt1/new.txt
run_q -C c2 git worktree remove ../wt1 --sync
is "$rc" 0 "remove of a clean worktree completes"
check "its directory is gone" test ! -e wt1
unlike "$(git -C c2 worktree list)" "wt1" "git no longer lists it"
run_q -C c2 git worktree remove ../c1 --sync
is "$rc" 1 "remove of a path that is not a worktree fails"

run_q fsck
is "$rc" 0 "fsck is clean"
done_testing
