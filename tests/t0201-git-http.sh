#!/usr/bin/env bash
# Git jobs over smart HTTP (tests/git-http-server.py on 127.0.0.1):
# tokens, refusals, temporary failures retried without spending attempts,
# a server that stops answering mid-transfer, one job at a time per
# repository.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIR/git-lib.sh"

make_origin origin
mkdir ctl
TOKEN=tok-$RANDOM-sekrit
start_http "$scratch" --token "$TOKEN" --control "$scratch/ctl" --log "$scratch/http.log"
url=http://127.0.0.1:$http_port

# --- tokens ---------------------------------------------------------------------

GH_TOKEN=$TOKEN run_q git clone --sync "$url/private/origin.git" h1
is "$rc" 0 "clone with the token in GH_TOKEN"
id=$(first)
is "$(cat h1/a.txt)" one "the clone has the files"
is "$(result "$id" 'j["result"]["head"]')" "$(git -C origin.git rev-parse main)" \
	"the result names the new HEAD"
pf=$Q_SPOOL/logs/${id:0:4}/$id.progress
like "$(cat "$pf")" '"message":"receiving objects [0-9]+/[0-9]+, [0-9]+ KiB"' \
	"progress reported objects and bytes received"
like "$(cat "$pf")" '"message":"checking out files' "and the checkout"
check "the token is nowhere in the spool" sh -c "! grep -rq -- '$TOKEN' '$Q_SPOOL'"
check "nor in the clone's config" sh -c "! grep -q -- '$TOKEN' h1/.git/config"

GITHUB_TOKEN=$TOKEN run_q git clone --sync "$url/private/origin.git" h2
is "$rc" 0 "clone with the token in GITHUB_TOKEN"

: >http.log
GH_TOKEN=wrong-token run_q git clone --sync "$url/private/origin.git" h3
is "$rc" 1 "a wrong token fails"
id=$(first)
like "$(result "$id" 'j["result"]["error"]')" "the server refused the token in GH_TOKEN" "and says so"
is "$(result "$id" 'len(j["history"])')" 1 "at once: a refused token is not tried again"
n=$(grep -c private http.log)
[ "$n" -le 3 ]
ok $? "the server was asked $n times (at most 3)"
check "no directory is left" test ! -e h3
check "nor a staging directory" test -z "$(ls -A | grep q-clone)"

run_q git clone --sync "$url/private/origin.git" h3
is "$rc" 1 "no token: fails"
like "$(result "$(first)" 'j["result"]["error"]')" "asks for credentials: set GH_TOKEN" "and says what to set"

run_q git clone --sync "$url/nothing.git" h3
is "$rc" 1 "a repository the server does not have: fails"
id=$(first)
like "$(result "$id" 'j["result"]["error"]')" "404" "with the HTTP status"
is "$(result "$id" 'len(j["history"])')" 1 "not found is not tried again"

# --- a push the remote's hook refuses ---------------------------------------------

refuse_pushes origin.git "policy: pushes to main need a review"
local_commit h1 mine
before=$(git -C origin.git rev-parse main)
GH_TOKEN=$TOKEN run_q -C h1 git push --sync
is "$rc" 1 "a push the pre-receive hook refuses fails"
id=$(first)
err_text=$(result "$id" 'j["result"]["error"]')
like "$err_text" "the remote refused refs/heads/main \\(pre-receive hook declined\\)" \
	"with the refused ref and the remote's status"
like "$err_text" "policy: pushes to main need a review" "and the hook's own message"
is "$(result "$id" 'j["result"]["refs"]')" \
	'[{"ref": "refs/heads/main", "status": "pre-receive hook declined"}]' \
	"the result lists the refused ref"
is "$(result "$id" 'len(j["history"])')" 1 "a refusal is not tried again"
is "$(git -C origin.git rev-parse main)" "$before" "the remote's main did not move"
rm origin.git/hooks/pre-receive
GH_TOKEN=$TOKEN run_q -C h1 git push --sync
is "$rc" 0 "without the hook the push goes through"
is "$(git -C origin.git rev-parse main)" "$(git -C h1 rev-parse HEAD)" "and main moved"

# --- temporary failures: retried, costing no attempt ------------------------------------

touch ctl/503
seed_commit five
GH_TOKEN=$TOKEN q_bg f503 -C h1 git fetch --sync --backoff 100ms
f503=$bg_pid
id503=
check "a 503 makes the fetch try again later" \
	wait_for 'id503=$(head -1 f503.out) && grep -q "\"tempfail\"" "$Q_SPOOL/logs/${id503:0:4}/$id503.events"' 10
rm ctl/503
wait "$f503"
is "$?" 0 "once the server answers, the fetch completes"
is "$(git -C h1 rev-parse origin/main)" "$(git -C origin.git rev-parse main)" "and fetched"
like "$(cat f503.out)" "unexpected http status code: 503; will try again" "the log says why it waited"
is "$(result "$id503" 'j["attempts"]')" 1 "the 503s cost no attempt"

port=$(free_port)
q_bg refused git clone --sync --backoff 100ms "http://127.0.0.1:$port/origin.git" r1
rpid=$bg_pid
idr=
check "a refused connection makes the clone try again later" \
	wait_for 'idr=$(head -1 refused.out) && grep -q "\"tempfail\"" "$Q_SPOOL/logs/${idr:0:4}/$idr.events"' 10
main_pid=$http_pid
start_http "$scratch" --port "$port"
wait "$rpid"
is "$?" 0 "once a server listens, the clone completes"
check "and has the files" test -s r1/big.bin
is "$(result "$idr" 'j["attempts"]')" 1 "the refused connections cost no attempt"
stop_http
http_pid=$main_pid

# --- a server that stops answering mid-transfer ------------------------------------------

touch ctl/stall
q_bg stall git clone --sync --timeout 1s --backoff 100ms --attempts 5 "$url/origin.git" s1
spid=$bg_pid
ids=
check "a clone from a server that stops answering times out" \
	wait_for 'ids=$(head -1 stall.out) && grep -q "\"error\":\"timeout\"" "$Q_SPOOL/logs/${ids:0:4}/$ids.events"' 10
rm ctl/stall
wait "$spid"
is "$?" 0 "and completes on a later attempt, once the server answers again"
is "$(result "$ids" 'j["history"][0]["error"]')" timeout "its first attempt timed out"
is "$(git -C s1 rev-parse HEAD)" "$(git -C origin.git rev-parse main)" "the clone is whole"
check "no staging directory is left" test -z "$(ls -A | grep q-clone)"

touch ctl/stall
run_q git clone --sync --timeout 1s --attempts 1 "$url/origin.git" s2
is "$rc" 1 "with one attempt, a clone that times out fails"
id=$(first)
is "$(result "$id" 'j["error"]')" timeout "with error timeout"
like "$(q log "$id")" "stopped \\(time limit or cancel\\)" "q-git said it was stopped"
check "and removed its staging directory on the way out" test -z "$(ls -A | grep q-clone)"
check "no directory was made" test ! -e s2
rm ctl/stall

# --- one git job at a time per repository --------------------------------------------------

seed_commit six
touch ctl/stall
run_q -C h1 git fetch --manual
a1=$out
run_q -C h1 git fetch --manual
a2=$out
run_q git clone origin.git b1 --manual
b=$out
GH_TOKEN=$TOKEN q_bg w worker --once -j 3
check "the first fetch of h1 runs (and stalls)" \
	wait_for '[ "$(q show --json '"$a1"' | jpy "j[\"status\"]")" = running ]' 10
check "meanwhile a job on another repository runs and completes" \
	wait_for 'q result '"$b" 10
is "$(q show --json "$a2" | jpy 'j["status"]')" pending \
	"while the second fetch of h1 waits for the first, with a worker slot free"
GH_TOKEN=$TOKEN q_bg s3 -C h1 git fetch --sync
s3=$bg_pid
check "a --sync fetch of h1 queues and waits too" wait_for "test -s s3.out" 10
is "$(q show --json "$(head -1 s3.out)" | jpy 'j["status"]')" pending "without running"
rm ctl/stall
check "then the first fetch completes" wait_for "q result $a1" 10
check "and the second runs after it" wait_for "q result $a2" 10
a1_end=$(q show --json "$a1" | jpy 'j["finished_at"]')
a2_start=$(q show --json "$a2" | jpy 'j["started_at"]')
[[ ! "$a2_start" < "$a1_end" ]]
ok $? "the second started ($a2_start) after the first finished ($a1_end)"
wait "$s3"
is "$?" 0 "the --sync fetch ran once the queue had room, and completed"

# No worker but the --sync ones: the second waits for the first's queue
# slot, then runs itself (the first's worker runs only its own job).
seed_commit seven
touch ctl/stall
GH_TOKEN=$TOKEN q_bg y1 -C h1 git fetch --sync
y1=$bg_pid
check "a --sync fetch runs (and stalls)" \
	wait_for 'test -s y1.out && [ "$(q show --json "$(head -1 y1.out)" | jpy "j[\"status\"]")" = running ]' 10
GH_TOKEN=$TOKEN q_bg y2 -C h1 git fetch --sync
y2=$bg_pid
check "a second --sync fetch of h1 queues" wait_for "test -s y2.out" 10
rm ctl/stall
wait "$y1"
is "$?" 0 "the first completes"
RUN_Q_TIMEOUT=20 run_q result --wait --timeout 15s "$(head -1 y2.out)"
is "$rc" 0 "the second completes after it, run by its own q git --sync"
check "and its q git --sync exits" wait_gone 5 "$y2"
kill "$y2" 2>/dev/null

stop_http
run_q fsck
is "$rc" 0 "fsck is clean"
done_testing
