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
