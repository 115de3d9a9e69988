# remote-lib.sh: what the tests of q remote (t04NN-remote) share; sourced
# after lib.sh.  A private PostgreSQL per test (pg.sh: pg_start, ...), the
# helpers of this build (Q_EXEC_PATH), and a skip of the whole file when
# bin/q-remote was not built (libpq-dev missing).
. "$TEST_DIR/pg.sh"
export Q_EXEC_PATH=$TOP/bin
[ -x "$TOP/bin/q-remote" ] || {
	echo "1..0 # SKIP bin/q-remote is not built (libpq-dev missing)"
	exit 0
}

# crash_find SPOOL TEST Q-ARGS...: snapshot SPOOL, then for n = 1, 2, ...
# restore it and run q Q-ARGS killed just before its n-th call, until TEST
# (shell code) holds: found=n, or empty if q ran to its end first.  Only
# the spool is restored, not the database: TEST must hold before q has
# changed the database, or the runs must leave it as it was.
crash_find() {
	local sp=$1 test=$2 n=0
	shift 2
	rm -rf "$scratch/snap"
	cp -a "$sp" "$scratch/snap"
	found=
	while [ $n -lt 100 ]; do
		n=$((n + 1))
		rm -rf "$sp"
		cp -a "$scratch/snap" "$sp"
		Q_SPOOL=$sp crash_at "$n" "$@" || return 0
		if eval "$test"; then
			found=$n
			return 0
		fi
	done
}
