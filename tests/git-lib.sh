# tests/git-lib.sh: sourced (after lib.sh) by the tests of git jobs,
# tests/t02NN-git-*.sh.
#
# Skips the whole test when bin/q-git is not built (no libgit2-dev; CI
# installs it), points workers at the helper (Q_EXEC_PATH), and offers:
#
#	git_id                       git with the test's identity, no system config
#	make_origin NAME             a bare repository NAME.git in the scratch
#	                             directory with main (a.txt, big.bin) and
#	                             feature branches, and a clone of it in seed/
#	seed_commit MSG              a commit on origin's main (made in seed/)
#	local_commit DIR MSG         a commit in the clone DIR (a line added to a.txt)
#	refuse_pushes REPO MSG       a pre-receive hook in REPO that says MSG, refuses
#	first                        the first line of $out (the id q git --sync printed)
#	result ID EXPR               jpy EXPR on the job's view (q show --json)
#	free_port                    a TCP port on 127.0.0.1 nobody listens on now
#	start_http ROOT [ARGS...]    tests/git-http-server.py on 127.0.0.1; sets
#	                             $http_port and $http_pid
#	stop_http [PID]              stops it

[ -x "$TOP/bin/q-git" ] || {
	echo "1..0 # SKIP bin/q-git is not built (libgit2 not found by pkg-config)"
	_done=1
	exit 0
}
export Q_EXEC_PATH=$TOP/bin
PY=/usr/bin/python3 # not a shim that takes seconds to start

git_id() {
	git -c init.defaultBranch=main -c protocol.file.allow=always "$@"
}

make_origin() {
	local name=$1
	git_id init -q --bare "$scratch/$name.git" || bail_out "git init --bare failed"
	rm -rf "$scratch/seed"
	git_id clone -q "$scratch/$name.git" "$scratch/seed" 2>/dev/null
	(
		cd "$scratch/seed" || exit 1
		echo one >a.txt
		# Enough data that a pack takes more than one read.
		head -c 200000 /dev/urandom >big.bin
		git_id add a.txt big.bin && git_id commit -q -m one &&
			git_id push -q origin HEAD:main &&
			git_id checkout -q -b feature && echo feature >f.txt &&
			git_id add f.txt && git_id commit -q -m feature &&
			git_id push -q origin feature && git_id checkout -q main
	) || bail_out "cannot fill $name.git"
	git -C "$scratch/$name.git" symbolic-ref HEAD refs/heads/main
}

seed_commit() {
	(
		cd "$scratch/seed" && git_id fetch -q origin && git_id reset -q --hard origin/main &&
			echo "$1" >>a.txt && git_id commit -q -am "$1" &&
			git_id push -q origin main
	) || bail_out "cannot commit to seed"
}

local_commit() {
	(cd "$1" && echo "$2" >>a.txt && git_id commit -q -am "$2") || bail_out "cannot commit in $1"
}

refuse_pushes() {
	printf '#!/bin/sh\necho "%s" >&2\nexit 1\n' "$2" >"$1/hooks/pre-receive"
	chmod +x "$1/hooks/pre-receive"
}

first() {
	echo "${out%%$'\n'*}"
}

result() {
	q show --json "$1" | jpy "$2"
}

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_http ROOT [ARGS...]: sets http_pid and http_port.
http_pid=
http_port=
_nhttp=0
start_http() {
	local root=$1 f
	shift
	_nhttp=$((_nhttp + 1))
	f=$scratch/http.$_nhttp.port
	$PY "$TEST_DIR/git-http-server.py" "$root" "$@" >"$f" 2>>"$scratch/http.err" &
	http_pid=$!
	wait_for "grep -q '^PORT ' '$f'" 10 ||
		bail_out "the HTTP server did not start: $(cat "$scratch/http.err")"
	http_port=$(sed -n 's/^PORT //p' "$f")
}

# stop_http [PID]: the last server started, or PID.
stop_http() {
	local pid=${1:-$http_pid}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
