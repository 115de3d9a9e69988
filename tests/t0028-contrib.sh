#!/usr/bin/env bash
# The trigger examples in contrib/ run the command lines they document.
. "$(dirname "$0")/lib.sh"

# A repository with q on PATH, its spool found the normal way.
unset Q_SPOOL
export Q_SYNC_MODE=manual
mkdir -p bin repo
ln -s "$Q" bin/q
export PATH="$scratch/bin:$PATH"
git init -q repo
repo="$scratch/repo"
spool="$repo/.idlergear/spool"
# q run through the function checks that the spool is in the scratch dir.
q -C "$repo" add -- sh -c 'echo from-systemd > out1' >/dev/null

# systemd: ExecStart of q-worker.service, with %h and REPO filled in.
exec_start=$(sed -n 's/^ExecStart=//p' "$TOP/contrib/systemd/q-worker.service")
like "$exec_start" "worker --once" "the service runs q worker --once"
mkdir -p "$scratch/src" "$scratch/.local/bin"
ln -sfn "$repo" "$scratch/src/REPO"
ln -sf "$Q" "$scratch/.local/bin/q"
cmd=${exec_start//%h/$scratch}
(cd / && $cmd)
is "$?" 0 "the service's command exits 0"
is "$(cat "$repo/out1" 2>/dev/null)" from-systemd "the service's command ran the job"
pathunit=$(cat "$TOP/contrib/systemd/q-worker.path")
like "$pathunit" "pending" "the path unit watches pending/"

# cron: the command after the five time fields, with the repo path filled in.
q -C "$repo" add -- sh -c 'echo from-cron > out2' >/dev/null
cronline=$(grep -v '^#' "$TOP/contrib/q-worker.cron" | grep -m1 'q worker')
croncmd=$(awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); print }' <<<"$cronline")
croncmd=${croncmd//\/path\/to\/repo/$repo}
(cd / && sh -c "$croncmd")
is "$?" 0 "the cron command exits 0"
is "$(cat "$repo/out2" 2>/dev/null)" from-cron "the cron command ran the job"

# git hook: post-merge queues `make -s index` once per worktree (keyed) and
# returns at once.  The job waits for a go: the hook returning before it
# (through a pipe a detached worker could hold open) is the proof.
printf 'index:\n\twhile [ ! -e go ]; do sleep 0.01; done; echo indexed >> indexed\n' >"$repo/Makefile"
git -C "$repo" add Makefile && git -C "$repo" commit -q -m make
cp "$TOP/contrib/git-hooks/post-merge" "$repo/.git/hooks/post-merge"
chmod +x "$repo/.git/hooks/post-merge"
(cd "$repo" && Q_SYNC_MODE=async .git/hooks/post-merge </dev/null | cat)
is "$?" 0 "the post-merge hook exits 0"
check "the hook returned while its job waits (the pipe is not held open)" test ! -e "$repo/indexed"
(cd "$repo" && Q_SYNC_MODE=manual .git/hooks/post-merge </dev/null 2>/dev/null | cat)
is "$(find "$repo/.idlergear/spool/pending" "$repo/.idlergear/spool/running" -type f | wc -l)" 1 \
	"a second merge in the same worktree queues nothing more (keyed)"
git -C "$repo" worktree add -q "$scratch/wt" 2>/dev/null
cp "$repo/Makefile" "$scratch/wt/" 2>/dev/null
(cd "$scratch/wt" && Q_SYNC_MODE=manual "$repo/.git/hooks/post-merge" </dev/null | cat)
is "$(find "$repo/.idlergear/spool/pending" "$repo/.idlergear/spool/running" -type f | wc -l)" 2 \
	"a merge in a linked worktree (same spool) queues its own job: the key names the worktree"
touch "$repo/go" "$scratch/wt/go"
check "the hook's job runs by itself" wait_for "test -s '$repo/indexed'" 10
q -C "$repo" worker >/dev/null 2>&1
check "and the worktree's" wait_for "test -s '$scratch/wt/indexed'" 10

# Claude Code: every hook command returns at once and runs the worker.
q -C "$repo" add -- sh -c 'echo from-claude >> out3' >/dev/null
cmds=$(python3 -c 'import json,sys
for ev in json.load(open(sys.argv[1]))["hooks"].values():
    for m in ev:
        for h in m["hooks"]:
            print(h["command"])' "$TOP/contrib/claude-code/settings.json")
isnt "$cmds" "" "settings.json has hook commands"
while IFS= read -r c; do
	(cd / && CLAUDE_PROJECT_DIR="$repo" sh -c "$c" </dev/null | cat)
	is "$?" 0 "hook command exits 0 and returns (its pipe not held open): $c"
done <<<"$cmds"
check "the Claude Code hook's worker ran the job" wait_for "grep -q from-claude '$repo/out3'" 10
check "fsck is clean" q -C "$repo" fsck
done_testing
