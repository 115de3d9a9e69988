# tests/pg.sh: sourced (after lib.sh) by the tests that need a PostgreSQL
# server, the store of the remote backend (bin/q-remote, Q_REMOTE_URL).
#
# Skips the whole test when no server is installed (Debian's postgresql;
# contrib/install-deps test). Each test gets a private server of its own,
# copied from a template data directory that initdb makes once per user
# and PostgreSQL version, under ${TMPDIR:-/tmp} (flock'd, so tests running
# in parallel make it once). The server listens on 127.0.0.1 and on a
# socket in the scratch directory, trusts every local connection, and is
# stopped (-m immediate) when the test exits. The caller's PG* settings are
# scrubbed, so psql and libpq reach this server and nothing else. As root,
# initdb, pg_ctl and the server run as the postgres user.
#
#	pg_start                     starts the server, then exports PGHOST (the
#	                             socket directory), PGPORT, PGUSER=q,
#	                             PGDATABASE=q, Q_REMOTE_URL (over TCP) and
#	                             PG_SOCKET_URL (over the socket)
#	pg_stop                      stops it (-m fast: clients are disconnected,
#	                             then a shutdown checkpoint)
#	pg_stop_immediate            stops it -m immediate: a crash, recovery
#	                             from the WAL at the next start
#	pg_restart_server            starts it again on the same port and data
#	pg_psql ARG...               psql -X -q -v ON_ERROR_STOP=1 -At ARG... on
#	                             database q (through the socket)
#	pg_listen=ADDR,...           the addresses it listens on from its next
#	                             start (127.0.0.1; a test adds its own, e.g.
#	                             a veth's, then pg_stop, pg_restart_server)
#
# $PG_BIN is the directory of the server programs; $pg_dir holds data/, the
# socket directory sock/ and the server's log.

# PGHOST, PGSERVICE and the like would send libpq elsewhere.
while IFS= read -r _v; do
	unset "$_v"
done < <(compgen -e | grep '^PG')
unset _v
PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/psql" ] ||
	{ [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; }; then
	echo "1..0 # SKIP no PostgreSQL server in /usr/lib/postgresql/*/bin (install the package postgresql)"
	_planned=0
	exit 0
fi

pg_dir=
pg_listen=127.0.0.1
_pg_port=
_pg_tmpl=

# _pg_as CMD [ARG...]: CMD as the owner of the server (initdb, pg_ctl and
# postgres refuse to run as root).
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# _pg_template: sets _pg_tmpl to a data directory made by initdb, with
# a database q, shared by the tests of this user. Its name has a hash of
# the initdb version and of the recipe, so that a change of either makes
# a new one; it is never changed once "ready" exists.
_pg_recipe="initdb -A trust -U q --no-sync -E UTF8 --locale=C; create database q"
_pg_template() {
	local dir h
	h=$({ "$PG_BIN/initdb" --version && echo "$_pg_recipe"; } | md5sum)
	dir=${TMPDIR:-/tmp}/q-pg-template-$(id -u)-${h:0:12}
	mkdir -m 0711 "$dir" 2>/dev/null
	if [ -L "$dir" ] || [ ! -O "$dir" ] || [ -n "$(find "$dir" -maxdepth 0 -perm /022)" ]; then
		bail_out "$dir is not a directory of this user that only it can write"
	fi
	_pg_tmpl=$dir/data
	(
		flock 9 || exit 1
		[ -e "$dir/ready" ] && exit 0
		rm -rf "$dir/data"
		mkdir -m 0700 "$dir/data" || exit 1
		[ "$(id -u)" = 0 ] && chown postgres: "$dir/data"
		_pg_as "$PG_BIN/initdb" -D "$dir/data" -A trust -U q --no-sync -E UTF8 --locale=C \
			>"$dir/initdb.log" 2>&1 || exit 1
		echo 'CREATE DATABASE q' |
			_pg_as "$PG_BIN/postgres" --single -D "$dir/data" -F -c exit_on_error=true postgres \
				>>"$dir/initdb.log" 2>&1 || exit 1
		sync -f "$dir/data" && touch "$dir/ready"
	) 9>"$dir/lock" ||
		bail_out "cannot make the PostgreSQL template $dir/data: $(tail -5 "$dir/initdb.log" 2>/dev/null)"
}

# _pg_ctl_start: starts the server on $_pg_port; fails if it does not start.
_pg_ctl_start() {
	_pg_as "$PG_BIN/pg_ctl" -D "$pg_dir/data" -w -t 60 -l "$pg_dir/log" -o "-p $_pg_port \
-k $pg_dir/sock -c listen_addresses=$pg_listen -c fsync=on -c max_connections=100 \
-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3" \
		start >>"$pg_dir/pg_ctl.out" 2>&1
}

pg_start() {
	local try
	[ -z "$pg_dir" ] || bail_out "pg_start: the server is started already"
	_pg_template
	pg_dir=$scratch/pg
	mkdir -m 0700 "$pg_dir" "$pg_dir/sock" || bail_out "cannot make $pg_dir"
	cp -a "$_pg_tmpl" "$pg_dir/data" || bail_out "cannot copy $_pg_tmpl"
	if [ "$(id -u)" = 0 ]; then
		# lib.sh makes the scratch directory 0700: let postgres through.
		chmod o+x "$scratch"
		chown postgres: "$pg_dir" "$pg_dir/sock"
		_pg_as test -w "$pg_dir/sock" ||
			bail_out "the postgres user cannot reach $pg_dir (is ${TMPDIR:-/tmp} searchable by all?)"
	fi
	# A random port; when another server holds it, another one.
	for try in 1 2 3 4 5 6 7 8 9 10; do
		_pg_port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		_pg_ctl_start && break
		grep -q 'could not bind' "$pg_dir/log" 2>/dev/null ||
			bail_out "the PostgreSQL server did not start: $(tail -5 "$pg_dir/log" 2>/dev/null)"
		[ "$try" = 10 ] && bail_out "the PostgreSQL server found no free port in 10 tries"
		: >"$pg_dir/log"
	done
	export PGHOST=$pg_dir/sock PGPORT=$_pg_port PGUSER=q PGDATABASE=q
	export Q_REMOTE_URL="postgresql://q@127.0.0.1:$_pg_port/q"
	export PG_SOCKET_URL="postgresql:///q?host=$pg_dir/sock&port=$_pg_port&user=q"
}

# _pg_stop MODE: pg_ctl stop -m MODE; fails (with the log) if it does not stop.
_pg_stop() {
	_pg_as "$PG_BIN/pg_ctl" -D "$pg_dir/data" -w -t 60 -m "$1" stop >>"$pg_dir/pg_ctl.out" 2>&1 || {
		diag "pg_ctl stop -m $1 failed:" "$(tail -5 "$pg_dir/log" 2>/dev/null)"
		return 1
	}
}

pg_stop() {
	_pg_stop fast
}

pg_stop_immediate() {
	_pg_stop immediate
}

pg_restart_server() {
	_pg_ctl_start || {
		diag "the PostgreSQL server did not start again:" "$(tail -5 "$pg_dir/log" 2>/dev/null)"
		return 1
	}
}

pg_psql() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# The server stops before lib.sh's _cleanup, which reads the test's status
# from $?: _pg_exit keeps it.
_pg_exit() {
	local status=$?
	[ -n "$pg_dir" ] && [ -e "$pg_dir/data/postmaster.pid" ] && _pg_stop immediate
	return "$status"
}
trap '_pg_exit; _cleanup' EXIT
