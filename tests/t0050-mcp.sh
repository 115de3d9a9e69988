#!/usr/bin/env bash
# q mcp: the official MCP SDK client drives the tools and MCP Tasks
# (tests/mcp/client.mjs); raw JSON-RPC lines drive the error paths, the
# older protocol versions, cancelled requests and a client that goes away.
. "$(dirname "$0")/lib.sh"

export PATH="$TOP/bin:$PATH"
export Q_SYNC_MODE=async

# --- the SDK client ----------------------------------------------------------------

# Node and the SDK come from contrib/install-deps: without them this test
# fails (it does not skip), so that CI cannot pass without running it.
sdk=$TOP/tests/mcp/node_modules/@modelcontextprotocol/sdk/package.json
if ! command -v node >/dev/null || [ ! -f "$sdk" ]; then
	ok 1 "node and tests/mcp/node_modules are installed (run contrib/install-deps)"
	done_testing
	exit 1
fi
ok 0 "node $(node --version) and the MCP SDK $(jpy 'j["version"]' <"$sdk")"

run_q add -l from-q-add -- echo from q add
qadd=$out
_q_guard mcp
Q="$Q" QADD_ID=$qadd OUT="$scratch/ids" timeout -k 5 120 node "$TOP/tests/mcp/client.mjs" \
	>"$scratch/client.out" 2>"$scratch/client.err"
is "$?" 0 "the client exits 0"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	"ok "*) ok 0 "sdk: ${line#ok }" ;;
	*) ok 1 "sdk: ${line#not ok }" ;;
	esac
done <"$scratch/client.out"
[ "$n" -ge 50 ] && [ "$(tail -1 "$scratch/client.out")" = "ok the client ran to the end" ]
ok $? "the client made all its checks ($n)" || diag "$(tail -5 "$scratch/client.err")"

# Jobs started through MCP are jobs like any other.
run_q list --json
listed=$out
missing=
while IFS= read -r id; do
	[ -n "$id" ] && ! grep -q "\"$id\"" <<<"$listed" && missing="$missing $id"
done <"$scratch/ids"
is "$missing" "" "q list shows every job started through MCP"
is "$(wc -l <"$scratch/ids")" 9 "(nine of them)"
run_q fsck
is "$rc" 0 "fsck is clean after the MCP session"

# --- raw JSON-RPC ------------------------------------------------------------------------

# A server on a coprocess; rpc LINE sends a line and reads one back into $resp.
resp=
serve() {
	_q_guard mcp
	coproc MCP { exec env "$@" "$Q" mcp 2>>"$scratch/mcp.err"; }
}
send() {
	printf '%s\n' "$1" >&"${MCP[1]}"
}
recv() {
	resp=
	IFS= read -r -t "${1:-10}" resp <&"${MCP[0]}"
	printf '%s\n' "$resp" >>"$scratch/stdout.jsonl"
}
rpc() {
	send "$1"
	recv
}
# Close the server's input; true if it then exits 0 within 5 s.
hangup() {
	local pid=$MCP_PID
	exec {MCP[1]}>&-
	wait_gone 5 "$pid" && wait "$pid"
}
init() {
	rpc '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"'"$1"'","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
	send '{"jsonrpc":"2.0","method":"notifications/initialized"}'
}

serve
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
like "$resp" '"id":1,"error":\{"code":-32600,"message":"not initialized' "a request before initialize: -32600"
rpc '{"jsonrpc":"2.0","id":2,"method":"ping"}'
is "$resp" '{"jsonrpc":"2.0","id":2,"result":{}}' "ping before initialize"
init 1999-01-01
like "$resp" '"protocolVersion":"2025-11-25"' "an unknown version: the server offers its newest"
rpc '{"jsonrpc":"2.0","id":3,"method":'
like "$resp" '^\{"jsonrpc":"2.0","id":null,"error":\{"code":-32700,' "malformed JSON: -32700"
rpc '{"jsonrpc":"2.0","id":4,"method":"ping"}'
is "$resp" '{"jsonrpc":"2.0","id":4,"result":{}}' "and the server goes on"
rpc '{"jsonrpc":"2.0","id":"s5","method":"resources/list"}'
like "$resp" '"id":"s5","error":\{"code":-32601,' "unknown method: -32601 (string ids echoed)"
rpc '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"poll_job","arguments":{"job_id":5}}}'
like "$resp" '"code":-32602,"message":"invalid arguments.job_id: want a string"' "bad argument: -32602 naming the field"
rpc '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"start_job","arguments":{"argv":["true"],"priorty":1}}}'
like "$resp" '"code":-32602,"message":"unknown argument .priorty.' "a misspelt argument: -32602 naming it"
rpc '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"start_job","arguments":{"type":"nope"}}}'
like "$resp" '-32602,"message":"invalid arguments.type: unknown job type .nope. \(this q knows exec' "an unknown job type: -32602 listing the types"
rpc '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"nope"}}'
like "$resp" '"code":-32602,"message":"unknown tool .nope.' "unknown tool: -32602"
rpc '{"jsonrpc":"2.0","id":null,"method":"ping"}'
like "$resp" '"id":null,"error":\{"code":-32600' "a null id: -32600"
rpc '[1,2]'
like "$resp" '"code":-32600' "a batch with 2025-11-25: -32600"
# A line over 1 MiB: an error, and the next line is read.
head -c 2000000 /dev/zero | tr '\0' x >"$scratch/big"
{ printf '{"jsonrpc":"2.0","id":10,"method":"ping","params":{"x":"'; cat "$scratch/big"; printf '"}}\n'; } >&"${MCP[1]}"
recv
like "$resp" '"id":null,"error":\{"code":-32600,"message":"message longer than 1048576 bytes' "an oversized line: -32600"
rpc '{"jsonrpc":"2.0","id":11,"method":"ping"}'
is "$resp" '{"jsonrpc":"2.0","id":11,"result":{}}' "and the next line is served"
# Exec refused by default: a tool error naming the setting.
rpc '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"start_job","arguments":{"argv":["touch","x"]}}}'
like "$resp" '"isError":true' "exec refused by default"
like "$resp" 'mcp.exec' "the refusal names mcp.exec"
# A cancelled request gets no answer; its job goes on.
run_q add -- sleep 3
slow=$out
send '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"wait_job","arguments":{"job_id":"'"$slow"'","timeout_s":20}}}'
send '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":13,"reason":"test"}}'
rpc '{"jsonrpc":"2.0","id":14,"method":"ping"}'
is "$resp" '{"jsonrpc":"2.0","id":14,"result":{}}' "a wait cancelled: the next request is answered"
recv 1
is "$resp" "" "and the cancelled one never is"
run_q show --json "$slow"
unlike "$(jpy 'j["status"]' <<<"$out")" 'cancelled|failed' "its job is not cancelled"
hangup
ok $? "the server exits when its input ends"

# Older versions: no structuredContent (the text carries the JSON), no
# tasks, batches with 2025-03-26.
serve
init 2025-03-26
like "$resp" '"protocolVersion":"2025-03-26"' "2025-03-26 is negotiated (Goose)"
unlike "$resp" '"tasks"' "no tasks capability before 2025-11-25"
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
unlike "$resp" 'outputSchema|taskSupport' "tools/list: no outputSchema before 2025-06-18"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"poll_job","arguments":{"job_id":"'"$qadd"'"}}}'
unlike "$resp" 'structuredContent' "tools/call: no structuredContent"
like "$resp" '"text":"job '"$qadd"' completed \(exit 0\)\\n\{\\"job_id\\":' "the text has the summary and the JSON"
rpc '[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":4,"method":"nope"}]'
like "$resp" '^\[\{"jsonrpc":"2.0","id":3,"result":\{\}\},\{"jsonrpc":"2.0","id":4,"error":\{"code":-32601' "a batch: one array of answers"
rpc '{"jsonrpc":"2.0","id":5,"method":"tasks/list"}'
like "$resp" '"code":-32601' "tasks/list without tasks: -32601"
hangup
serve
init 2024-11-05
like "$resp" '"protocolVersion":"2024-11-05"' "2024-11-05 is negotiated"
hangup
serve
init 2025-06-18
like "$resp" '"protocolVersion":"2025-06-18"' "2025-06-18 is negotiated"
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
like "$resp" 'outputSchema' "2025-06-18: outputSchema"
unlike "$resp" 'taskSupport' "but no taskSupport"
hangup

# Typed jobs go through the types table with their args, and need no
# mcp.exec; a GitHub job gets what q gh gives one.
serve Q_SYNC_MODE=manual
init 2025-11-25
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"start_job","arguments":{"type":"git","args":{"op":"fetch","repo":"'"$scratch"'"}}}}'
like "$resp" '"isError":false' "a git job is allowed by default"
git_job=$(sed -n 's/.*"job_id":"\([0-9a-z]*\)".*/\1/p' <<<"$resp")
run_q show --json "$git_job"
is "$(jpy '[j["type"], j["args"]["op"], j["status"]]' <<<"$out")" '["git", "fetch", "pending"]' "q show: the git job and its args"
is "$(jpy '[j["queue"], j["max_attempts"], j["timeout_ms"]]' <<<"$out")" "[\"git:$scratch\", 3, 600000]" \
	"it is queued per repository, with a time limit and 3 attempts, as q git does"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_job","arguments":{"type":"git","args":{"op":"nope"}}}}'
like "$resp" '"code":-32602,"message":"invalid arguments.args: .op. is not clone' "bad args: -32602 with the type's reason"
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"start_job","arguments":{"type":"git","argv":["x"]}}}'
like "$resp" '"code":-32602,"message":"invalid arguments.argv: git jobs take args' "argv for a typed job: -32602"
rpc '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"start_job","arguments":{"type":"github","args":{"op":"issue_create","api_url":"http://127.0.0.1:9","repo":"o/r","title":"from mcp"}}}}'
like "$resp" '"isError":false' "a GitHub job is allowed by default"
gh_job=$(sed -n 's/.*"job_id":"\([0-9a-z]*\)".*/\1/p' <<<"$resp")
run_q show --json "$gh_job"
is "$(jpy '[j["type"], j["queue"], j["max_attempts"]]' <<<"$out")" '["github", "github:127.0.0.1:9", 4]' \
	"its writes are queued per host, with sync.max_retries, as q gh does"
run_q cancel "$git_job" "$gh_job"
hangup

# A client that goes away in the middle of a wait: the server exits at
# once, and the job goes on.
serve Q_MCP_EXEC=all
init 2025-11-25
rpc '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"start_job","arguments":{"argv":["sh","-c","sleep 1; echo late >late"]}}}'
job=$(sed -n 's/.*"job_id":"\([0-9a-z]*\)".*/\1/p' <<<"$resp")
like "$job" '^[0-9a-z]{14}$' "start_job with Q_MCP_EXEC=all"
send '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"wait_job","arguments":{"job_id":"'"$job"'","timeout_s":25}}}'
sleep 0.2
t0=$(now_ms)
hangup
ok $? "input closed mid-wait: the server exits"
[ $(($(now_ms) - t0)) -lt 3000 ]
ok $? "at once, not after the wait"
check "the job goes on and completes" wait_for 'test -s late' 15
run_q result --wait --timeout 10s "$job"
is "$rc" 0 "q result: completed"

# Nothing but JSON-RPC went to standard output.
bad=$(python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
	line = line.rstrip("\n")
	if not line:
		continue
	m = json.loads(line)
	for x in m if isinstance(m, list) else [m]:
		if x.get("jsonrpc") != "2.0":
			print(n, line[:80])
' "$scratch/stdout.jsonl" 2>&1)
is "$bad" "" "every line on standard output is JSON-RPC"
unlike "$(cat "$scratch/mcp.err" "$scratch/client.err")" 'Sanitizer|runtime error' \
	"no sanitizer reports from any server"

# list_jobs counts each status once: held and offered jobs both count as pending.
Q_SPOOL=$scratch/counts q add --hold -- true >/dev/null
Q_SPOOL=$scratch/counts q prompt -- a prompt >/dev/null
counts=$(printf '%s\n' \
	'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
	'{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_jobs","arguments":{}}}' |
	Q_SPOOL=$scratch/counts "$Q" mcp | tail -1 | jpy 'j["result"]["structuredContent"]["counts"]')
is "$counts" '{"pending": 2, "running": 0, "completed": 0, "failed": 0, "cancelled": 0, "expired": 0}' \
	"list_jobs counts: each status once, pending covering held and offered jobs"

done_testing
