#!/usr/bin/env bash
# Where the spool is, its modes, and a spool reader that trusts nothing.
. "$(dirname "$0")/lib.sh"

# Without Q_SPOOL q looks for an enclosing git repository; the scratch
# directory must not be inside one (q() refuses to run otherwise).
outer_repo=0
git -C "$scratch" rev-parse --git-dir >/dev/null 2>&1 && outer_repo=1

# --- location ------------------------------------------------------------------

if [ "$outer_repo" = 0 ]; then
	(
		unset Q_SPOOL
		git init -q repo
		mkdir -p repo/a/b
		git -C repo commit -q --allow-empty -m init
		cd repo/a/b || exit 1
		q add -- true >"$scratch/repo.id" 2>"$scratch/repo.err"
		echo $? >"$scratch/repo.rc"
	)
	is "$(cat repo.rc)" 0 "add inside a git repository (from a subdirectory) exits 0"
	id=$(cat repo.id)
	check "the spool is <top>/.idlergear/spool" test -f "repo/.idlergear/spool/pending/5-$id"
	check "no spool in the subdirectory" test ! -e repo/a/b/.idlergear
	check "no spool in ./spool (Q_SPOOL was unset)" test ! -e "$Q_SPOOL"
	is "$(cat repo/.idlergear/spool/.gitignore 2>/dev/null)" "*" "the spool holds a .gitignore with *"
	is "$(git -C repo status --porcelain --untracked-files=all)" "" \
		"git status shows nothing after adding a job"

	# A linked worktree shares the main worktree's spool.
	git -C repo worktree add -q --detach "$scratch/wt" 2>/dev/null
	ok $? "git worktree add"
	(
		unset Q_SPOOL
		cd "$scratch/wt" || exit 1
		q list >"$scratch/wt.list" 2>&1
		q add -- true >"$scratch/wt.id" 2>&1
	)
	like "$(cat wt.list)" "$id" "q list in a linked worktree shows the main worktree's job"
	wid=$(cat wt.id)
	check "a job added in a linked worktree lands in the main spool" \
		test -f "repo/.idlergear/spool/pending/5-$wid"
	check "no spool inside the linked worktree" test ! -e wt/.idlergear
	is "$(git -C wt status --porcelain --untracked-files=all)" "" "git status clean in the worktree"

	# A worktree of a bare repository: the spool is <common>/.idlergear/spool.
	git clone -q --bare repo bare.git 2>/dev/null
	git -C bare.git worktree add -q --detach "$scratch/bwt" 2>/dev/null
	ok $? "git worktree add from a bare repository"
	(
		unset Q_SPOOL
		cd "$scratch/bwt" || exit 1
		q add -- true >"$scratch/bwt.id" 2>&1
	)
	bid=$(cat bwt.id)
	check "worktree of a bare repository: spool in <bare>/.idlergear/spool" \
		test -f "bare.git/.idlergear/spool/pending/5-$bid"

	# Outside any repository: ./.idlergear/spool.
	mkdir -p plain/x
	(
		unset Q_SPOOL
		cd "$scratch/plain/x" || exit 1
		q add -- true >"$scratch/plain.id" 2>&1
	)
	pid_=$(cat plain.id)
	check "outside a repository the spool is ./.idlergear/spool" \
		test -f "plain/x/.idlergear/spool/pending/5-$pid_"

	# -C DIR runs as if started in DIR.
	(
		unset Q_SPOOL
		q -C repo/a add -- true >"$scratch/c.id" 2>&1
		q -C "$scratch/plain/x" list >"$scratch/c.list" 2>&1
	)
	cid=$(cat c.id)
	check "q -C DIR add uses DIR's repository" test -f "repo/.idlergear/spool/pending/5-$cid"
	like "$(cat c.list)" "$pid_" "q -C DIR list uses DIR's spool"
	(
		unset Q_SPOOL
		q -C repo/a show --json "$cid" >"$scratch/c.json" 2>&1
	)
	is "$(jpy 'j["cwd"]' <c.json)" "$scratch/repo/a" "q -C DIR add: the job's cwd is DIR"

	# Q_SPOOL wins over the repository.
	(
		cd repo/a || exit 1
		q add -- true >"$scratch/qs.id" 2>&1
	)
	check "Q_SPOOL names the spool even inside a repository" \
		test -f "$Q_SPOOL/pending/5-$(cat qs.id)"
else
	skip 18 "the scratch directory is inside a git repository"
fi

# --- readers do not create the spool ----------------------------------------

rm -rf "$Q_SPOOL"
run_q list
is "$rc" 0 "list of a spool that does not exist: exit 0"
is "$out" "" "list of a spool that does not exist: empty"
run_q status
is "$rc" 0 "status of a missing spool: exit 0"
run_q show zzzzzzzzzzzzzz
is "$rc" 4 "show of a missing spool: exit 4"
run_q fsck
note "fsck of a missing spool: rc=$rc"
check "readers created no spool" test ! -e "$Q_SPOOL"

# --- a relative Q_SPOOL ----------------------------------------------------------

mkdir -p rel/sub
(
	cd rel || exit 1
	export Q_SPOOL=spool-here
	q add -- sh -c 'echo "$Q_SPOOL"' >../rel.id 2>&1
	cd / && Q_SPOOL="$scratch/rel/spool-here" q worker --once >/dev/null 2>&1
)
check "a relative Q_SPOOL is relative to the current directory" test -d rel/spool-here
Q_SPOOL="$scratch/rel/spool-here" run_q log "$(cat rel.id)"
is "$out" "$scratch/rel/spool-here" "the job gets Q_SPOOL as an absolute path"
(
	cd rel || exit 1
	Q_SPOOL=spool-here q -C sub add -- true >/dev/null 2>&1
)
check "with -C DIR, a relative Q_SPOOL is relative to DIR (as if started there)" \
	test -d rel/sub/spool-here

# --- modes ---------------------------------------------------------------------

rm -rf "$Q_SPOOL"
(umask 022 && q add -- true >/dev/null && q add --key k -- true >/dev/null && q worker --once >/dev/null 2>&1)
ok $? "add and worker with umask 022"
is "$(stat -c %a "$Q_SPOOL")" 700 "the spool directory has mode 0700"
bad_dirs=$(find "$Q_SPOOL" -type d ! -perm 0700 -printf '%P %m\n')
is "$bad_dirs" "" "every directory in the spool has mode 0700"
bad_files=$(find "$Q_SPOOL" -type f ! -perm 0600 -printf '%P %m\n')
is "$bad_files" "" "every file in the spool has mode 0600"
is "$(find "$Q_SPOOL" ! -type f ! -type d -printf '%P %y\n')" "" "nothing but files and directories"
like "$(find "$Q_SPOOL/done" -type f | wc -l)" '^2$' "both jobs completed"

# --- an unsafe spool is refused ------------------------------------------------

for mode in 0770 0707 0720 0702; do
	chmod "$mode" "$Q_SPOOL"
	before=$(spool_listing)
	run_q add -- true
	is "$rc" 3 "spool with mode $mode: add exits 3"
	like "$err" "^q: " "spool with mode $mode: message starts with 'q: '"
	is "$(spool_listing)" "$before" "spool with mode $mode: nothing written"
	run_q list
	is "$rc" 3 "spool with mode $mode: list exits 3"
	run_q worker --once
	is "$rc" 3 "spool with mode $mode: worker exits 3"
done
chmod 0700 "$Q_SPOOL"

# A spool that is a file.
echo not-a-dir >"$scratch/file-spool"
Q_SPOOL="$scratch/file-spool" run_q add -- true
is "$rc" 3 "a spool that is a regular file: exit 3"
is "$(cat "$scratch/file-spool")" not-a-dir "the file is untouched"

# A spool belonging to another user (we may be root: chown works then).
if [ "$(id -u)" = 0 ]; then
	mkdir -m 0700 "$scratch/other-spool"
	chown 12345:12345 "$scratch/other-spool"
	Q_SPOOL="$scratch/other-spool" run_q add -- true
	is "$rc" 3 "a spool owned by another user: exit 3"
	is "$(find "$scratch/other-spool" -mindepth 1 | wc -l)" 0 "nothing written in it"
else
	skip 2 "not root: cannot make a spool owned by another user"
fi

# --- symbolic links in the spool are never followed ----------------------------

# Can we tell whether a file was read? (atime updates: relatime updates an
# atime older than the mtime.)
echo probe >probe
touch -a -d '2001-01-01' probe
cat probe >/dev/null
atime_works=0
[ "$(stat -c %X probe)" != "$(date -d 2001-01-01 +%s)" ] && atime_works=1

# prepare_outside ID FILE: move job ID's file out of the spool to FILE, with
# an old atime.
prepare_outside() {
	mv "$Q_SPOOL/pending/5-$1" "$2"
	cp "$2" "$2.orig"
	touch -a -d '2001-01-01' "$2" "$2.orig"
	touch -m -d '2001-01-02' "$2" "$2.orig"
}

# 1. pending/5-ID is a symlink to a job file outside the spool.
mkdir -p outside
run_q add -- touch "$scratch/pwned-file"
sid=$out
prepare_outside "$sid" "$scratch/outside/job"
ln -s "$scratch/outside/job" "$Q_SPOOL/pending/5-$sid"
run_q worker --once
note "worker: rc=$rc err=$err"
check "symlinked job file: the command did not run" test ! -e pwned-file
check "symlinked job file: target still there" test -f outside/job
if [ "$atime_works" = 1 ]; then
	is "$(stat -c %X outside/job)" "$(stat -c %X outside/job.orig)" "symlinked job file: target not read (atime)"
else
	skip 1 "atime is not updated on this file system"
fi
is "$(stat -c %Y outside/job)" "$(stat -c %Y outside/job.orig)" "symlinked job file: target mtime unchanged"
check "symlinked job file: target unchanged" cmp -s outside/job outside/job.orig
quarantined=$(find "$Q_SPOOL/quarantine" -mindepth 1 ! -name '*.reason' 2>/dev/null | wc -l)
run_q fsck
if [ "$quarantined" -ge 1 ]; then
	ok 0 "symlinked job file was quarantined"
else
	is "$rc" 1 "symlinked job file left in pending/: fsck reports it (exit 1)"
fi
check "symlinked job file: not in done/" test -z "$(find "$Q_SPOOL/done" -name "$sid")"

# 2. pending/ itself is a symlink to a directory outside the spool.
run_q add -- touch "$scratch/pwned-dir"
did=$out
mkdir -p elsewhere
prepare_outside "$did" "$scratch/elsewhere/5-$did"
rm -rf "${Q_SPOOL:?}/pending"
ln -s "$scratch/elsewhere" "$Q_SPOOL/pending"
before_else=$(find elsewhere -printf '%P %y %m %s %T@\n' | sort)
run_q worker --once
note "worker: rc=$rc err=$err"
check "symlinked pending/: the command did not run" test ! -e pwned-dir
is "$(find elsewhere -printf '%P %y %m %s %T@\n' | sort)" "$before_else" \
	"symlinked pending/: the target directory is untouched"
if [ "$atime_works" = 1 ]; then
	is "$(stat -c %X "elsewhere/5-$did")" "$(stat -c %X "elsewhere/5-$did.orig")" \
		"symlinked pending/: target job not read (atime)"
else
	skip 1 "atime is not updated on this file system"
fi
check "symlinked pending/: target job unchanged" cmp -s "elsewhere/5-$did" "elsewhere/5-$did.orig"
run_q add -- true
isnt "$rc" 0 "symlinked pending/: add refuses"
is "$(find elsewhere -printf '%P %y %m %s %T@\n' | sort)" "$before_else" \
	"symlinked pending/: add wrote nothing through the link"
run_q fsck
is "$rc" 1 "symlinked pending/: fsck exits 1"

# 3. a symlink planted as logs/ of a job: the worker must not write through it.
rm -f "$Q_SPOOL/pending"
mkdir -m 0700 "$Q_SPOOL/pending"
run_q add -- sh -c 'echo SECRET-OUTPUT'
lid=$out
lb=${lid:0:4}
mkdir -p logtarget
if [ -d "$Q_SPOOL/logs/$lb" ]; then
	mv "$Q_SPOOL/logs/$lb" "$scratch/logtarget/old"
fi
ln -s "$scratch/logtarget" "$Q_SPOOL/logs/$lb"
run_q worker --once
note "worker: rc=$rc err=$err"
is "$(grep -rl SECRET-OUTPUT logtarget 2>/dev/null)" "" "symlinked logs/B: no output written through it"
done_testing
