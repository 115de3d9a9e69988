# tests/gh-lib.sh: sourced after lib.sh by the GitHub tests (t03NN-gh-*.sh).
#
#	need_helper                  skip the whole test unless bin/q-github is built
#	fake_github                  need_helper, then a fake whose token ($TOKEN)
#	                             the worker has as GH_ENTERPRISE_TOKEN
#	start_fake [--token T]       start tests/fake-github.py; sets FAKE_PORT,
#	                             OTHER_PORT and Q_GITHUB_API_URL
#	fake METHOD PATH [BODY]      a request to the fake's control API (bash's
#	                             /dev/tcp, no curl); prints the response body
#	state EXPR                   EXPR on the fake's repositories (s), e.g.
#	                             s["octo/demo"][0]["title"]
#	requests EXPR                EXPR on the fake's request log (l)
#	faults JSON                  script faults (tests/fake-github.py)
#	py EXPR                      like jpy, with the interpreter found once
#	                             (a pyenv shim may take seconds to start)
#	make_repo DIR URL            a git repository whose origin is URL
#	no_token_in_spool            passes when $TOKEN is nowhere under the spool
#
# The helper runs from the build (Q_EXEC_PATH); writes are not spaced
# out and workers do not linger unless a test says so.

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
export Q_EXEC_PATH=$TOP/bin
export Q_GITHUB_WRITE_INTERVAL=0 Q_WORKER_LINGER=0 Q_JOB_BACKOFF=100ms:1s
export Q_GITHUB_TIMEOUT=2s Q_GITHUB_CONNECT_TIMEOUT=2s
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
unset GH_ENTERPRISE_TOKEN GITHUB_ENTERPRISE_TOKEN

need_helper() {
	if [ ! -x "$TOP/bin/q-github" ]; then
		echo "1..0 # SKIP bin/q-github is not built (libcurl's pkg-config file was not found)"
		_planned=0
		exit 0
	fi
}

py() {
	"$PY" -c '
import json, sys
j = json.load(sys.stdin)
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r))
' "$1"
}

FAKE_PORT=
OTHER_PORT=
start_fake() {
	"$PY" "$TEST_DIR/fake-github.py" "$@" >"$scratch/fake.port" 2>"$scratch/fake.err" &
	# lib.sh's cleanup kills it (its cwd is in the scratch directory), quietly.
	disown
	wait_for "[ -s '$scratch/fake.port' ]" 10 || bail_out "the fake GitHub did not start: $(cat "$scratch/fake.err")"
	read -r _ FAKE_PORT OTHER_PORT <"$scratch/fake.port"
	export Q_GITHUB_API_URL=http://127.0.0.1:$FAKE_PORT
}

fake_github() {
	need_helper
	TOKEN=ghe-$test_name-$RANDOM$RANDOM
	start_fake --token "$TOKEN"
	export GH_ENTERPRISE_TOKEN=$TOKEN
}

fake() {
	local m=$1 p=$2 body=${3-} line fd
	exec {fd}<>"/dev/tcp/127.0.0.1/$FAKE_PORT" || return 1
	printf '%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$m" "$p" "${#body}" "$body" >&"$fd"
	while IFS= read -r line <&"$fd"; do
		[ -z "${line%$'\r'}" ] && break
	done
	cat <&"$fd"
	exec {fd}>&-
}

state() {
	fake GET /_fake/state | py "(lambda s: $1)(j)"
}

requests() {
	fake GET /_fake/log | py "(lambda l: $1)(j)"
}

faults() {
	fake POST /_fake/faults "$1" >/dev/null
}

make_repo() {
	git init -q "$1" && git -C "$1" remote add origin "$2"
}

no_token_in_spool() {
	! grep -r -q -a -F -- "$TOKEN" "$Q_SPOOL"
}
