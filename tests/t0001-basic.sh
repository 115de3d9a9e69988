#!/usr/bin/env bash
# add, worker --once, result, log, and the JSON views of a job.
. "$(dirname "$0")/lib.sh"

rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
idre='^[0-9abcdefghjkmnpqrstvwxyz]{14}$'

# --- a job that succeeds --------------------------------------------------------

run_q add -- sh -c 'echo to-stdout; echo to-stderr >&2'
is "$rc" 0 "add exits 0"
is "$err" "" "add prints nothing on stderr"
like "$out" "$idre" "add prints one job id"
ok_id=$out

# The job file: pending/P-ID, mode 0600, the JSON of spool-format.md.
f="$Q_SPOOL/pending/5-$ok_id"
check "job file is pending/5-ID" test -f "$f"
is "$(stat -c %a "$f" 2>/dev/null)" 600 "job file has mode 0600"
is "$(find "$Q_SPOOL/pending" -type f | wc -l)" 1 "pending/ holds exactly one file"
python3 - "$f" "$ok_id" "$scratch" <<'EOF' >jobfile.check 2>&1
import json, re, sys
path, jid, cwd = sys.argv[1:]
j = json.load(open(path, encoding="utf-8"))
assert isinstance(j, dict), "not an object"
assert j.get("version") == 1, "version %r" % j.get("version")
assert j.get("id") == jid, "id %r" % j.get("id")
assert j.get("type") == "exec", "type %r" % j.get("type")
assert j.get("argv") == ["sh", "-c", "echo to-stdout; echo to-stderr >&2"], "argv %r" % j.get("argv")
assert j.get("cwd") == cwd, "cwd %r" % j.get("cwd")
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", j.get("created_at", "")), "created_at %r" % j.get("created_at")
assert isinstance(j.get("env", {}), dict), "env not an object"
assert all(isinstance(v, str) for v in j.get("env", {}).values()), "env values not strings"
assert j.get("priority", 5) == 5, "priority %r" % j.get("priority")
assert j.get("max_attempts", 1) == 1, "max_attempts %r" % j.get("max_attempts")
assert j.get("timeout_ms", 0) == 0, "timeout_ms %r" % j.get("timeout_ms")
assert j.get("after", []) == [], "after %r" % j.get("after")
assert j.get("key") is None, "key %r" % j.get("key")
assert j.get("run_at") is None, "run_at %r" % j.get("run_at")
EOF
ok $? "job file has the fields of spool-format.md" || diag "$(cat jobfile.check)"

run_q result "$ok_id"
is "$rc" 5 "result of a pending job exits 5"
like "$out" "^$ok_id pending" "result of a pending job says pending"

run_q show --json "$ok_id"
is "$rc" 0 "show --json of a pending job exits 0"
python3 -c '
import json, sys
j = json.load(sys.stdin)
for k, want in (("status", "pending"), ("attempts", 0), ("started_at", None),
                ("finished_at", None), ("exit_code", None), ("signal", None)):
    assert j.get(k, "MISSING") == want, "%s: %r" % (k, j.get(k, "MISSING"))
' <<<"$out" >show.check 2>&1
ok $? "show --json of a pending job: status pending, attempts 0, nulls" || diag "$(cat show.check)"

ino=$(stat -c %i "$f")
mt=$(stat -c %Y.%y "$f")
sum=$(md5sum <"$f")
run_q worker --once
is "$rc" 0 "worker --once exits 0"
check "job file left pending/" test ! -e "$f"
b=${ok_id:0:4}
check "job file is in done/B/ID" test -f "$Q_SPOOL/done/$b/$ok_id"
is "$(stat -c %i "$Q_SPOOL/done/$b/$ok_id")" "$ino" "the job moved by rename (same inode)"
is "$(md5sum <"$Q_SPOOL/done/$b/$ok_id")" "$sum" "the job file was never modified (content)"
is "$(stat -c %Y.%y "$Q_SPOOL/done/$b/$ok_id")" "$mt" "the job file was never modified (mtime)"
check "the output log is logs/B/ID.out" test -f "$Q_SPOOL/logs/$b/$ok_id.out"
check "the event log is logs/B/ID.events" test -f "$Q_SPOOL/logs/$b/$ok_id.events"
is "$(q show --json "$ok_id" | jpy 'j["output_size"]')" "$(stat -c %s "$Q_SPOOL/logs/$b/$ok_id.out")" \
	"output_size is the size of the output log"

run_q result "$ok_id"
is "$rc" 0 "result of a completed job exits 0"
like "$out" "^$ok_id completed" "result line starts with ID completed"
is "$(printf '%s\n' "$out" | wc -l)" 1 "result prints one line"

run_q log "$ok_id"
is "$rc" 0 "log exits 0"
is "$(sort <<<"$out")" "$(printf 'to-stderr\nto-stdout')" "log holds stdout and stderr"

# --- a job that fails ------------------------------------------------------------

run_q add -- sh -c 'echo failing; exit 3'
fail_id=$out
run_q add -- sh -c 'kill -KILL $$'
sig_id=$out
run_q worker --once
is "$rc" 0 "worker --once exits 0 when a job fails"

run_q result "$fail_id"
is "$rc" 1 "result of a failed job exits 1"
like "$out" "^$fail_id failed exit 3" "result line says failed exit 3"
check "failed job is in failed/B/ID" test -f "$Q_SPOOL/failed/${fail_id:0:4}/$fail_id"
run_q log "$fail_id"
is "$out" failing "log of the failed job"

run_q result "$sig_id"
is "$rc" 1 "result of a killed job exits 1"
like "$out" "^$sig_id failed signal 9" "result line says failed signal 9"

# --- JSON views ------------------------------------------------------------------

# check_json CWD ID STATUS EXIT SIGNAL ERROR < json: the fields of one job.
check_json_py=$(cat <<'EOF'
import json, re, sys
cwd, jid, status, code, sig, error, argv = sys.argv[1:]
j = json.loads(sys.stdin.read())
if isinstance(j, list):
    m = [x for x in j if x.get("id") == jid]
    assert len(m) == 1, "%d entries with id %s in the list" % (len(m), jid)
    j = m[0]
t = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
for k in ("id", "type", "status", "argv", "cwd", "created_at", "started_at",
          "finished_at", "attempts", "exit_code", "signal"):
    assert k in j, "no field %r" % k
assert j["id"] == jid, "id %r" % j["id"]
assert j["type"] == "exec", "type %r" % j["type"]
assert j["status"] == status, "status %r" % j["status"]
assert j["argv"] == json.loads(argv), "argv %r" % j["argv"]
assert j["cwd"] == cwd, "cwd %r" % j["cwd"]
for k in ("created_at", "started_at", "finished_at"):
    assert isinstance(j[k], str) and re.fullmatch(t, j[k]), "%s %r" % (k, j[k])
assert j["created_at"] <= j["started_at"] <= j["finished_at"], "times out of order"
assert j["attempts"] == 1, "attempts %r" % j["attempts"]
assert j["exit_code"] == json.loads(code), "exit_code %r" % j["exit_code"]
assert j["signal"] == json.loads(sig), "signal %r" % j["signal"]
assert j.get("error", "MISSING") == json.loads(error), "error %r" % j.get("error", "MISSING")
EOF
)
check_json() {
	python3 -c "$check_json_py" "$@"
}

argv_ok='["sh", "-c", "echo to-stdout; echo to-stderr >&2"]'
argv_fail='["sh", "-c", "echo failing; exit 3"]'
argv_sig='["sh", "-c", "kill -KILL $$"]'

for view in show result; do
	run_q "$view" --json "$ok_id"
	is "$rc" 0 "$view --json of a completed job exits 0"
	check_json "$scratch" "$ok_id" completed 0 null null "$argv_ok" <<<"$out" >j.check 2>&1
	ok $? "$view --json of the completed job" || diag "$out" "$(cat j.check)"
	run_q "$view" --json "$fail_id"
	check_json "$scratch" "$fail_id" failed 3 null '"nonzero_exit"' "$argv_fail" <<<"$out" >j.check 2>&1
	ok $? "$view --json of the failed job (exit 3)" || diag "$out" "$(cat j.check)"
	run_q "$view" --json "$sig_id"
	check_json "$scratch" "$sig_id" failed null 9 '"signal"' "$argv_sig" <<<"$out" >j.check 2>&1
	ok $? "$view --json of the killed job (signal 9)" || diag "$out" "$(cat j.check)"
done
run_q result --json "$fail_id"
is "$rc" 1 "result --json of a failed job still exits 1"

run_q list --json
is "$rc" 0 "list --json exits 0"
is "$(jpy 'len(j)' <<<"$out")" 3 "list --json is an array of 3 jobs"
check_json "$scratch" "$ok_id" completed 0 null null "$argv_ok" <<<"$out" >j.check 2>&1
ok $? "list --json: the completed job" || diag "$(cat j.check)"
check_json "$scratch" "$fail_id" failed 3 null '"nonzero_exit"' "$argv_fail" <<<"$out" >j.check 2>&1
ok $? "list --json: the failed job" || diag "$(cat j.check)"

run_q list
is "$rc" 0 "list exits 0"
is "$(printf '%s\n' "$out" | grep -c .)" 3 "list prints one line per job"
like "$out" "(^|
)$ok_id +completed +[^ ]+ +sh -c " "list line: ID STATUS AGE CMD"

# --- argv is stored verbatim ------------------------------------------------------

uni=$(printf 'caf\303\251 \342\234\223')
run_q add -- printf '[%s]\n' 'two words' "it's \"quoted\"" '' "$uni" '$HOME' '*' '-x' $'tab\there'
argv_id=$out
is "$rc" 0 "add of an awkward argv exits 0"
run_q show --json "$argv_id"
got=$(jpy 'j["argv"]' <<<"$out")
want=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' \
	printf '[%s]\n' 'two words' "it's \"quoted\"" '' "$uni" '$HOME' '*' '-x' $'tab\there')
is "$got" "$want" "show --json argv is verbatim"
run_q worker --once
run_q log "$argv_id"
want=$(printf '[%s]\n' 'two words' "it's \"quoted\"" '' "$uni" '$HOME' '*' '-x' $'tab\there')
is "$out" "$want" "the command received argv verbatim (no shell, no expansion)"

# A command that looks like an option, after --.
run_q add -- --not-an-option
is "$rc" 0 "add -- --not-an-option exits 0"
run_q show --json "$out"
is "$(jpy 'j["argv"]' <<<"$out")" '["--not-an-option"]' "argv after -- is the command"

# --- cwd and environment are those at add time --------------------------------

mkdir -p "$scratch/sub dir/deeper"
(
	cd "$scratch/sub dir/deeper" || exit 1
	export Q_TEST_VAR='value with spaces $HOME'
	export GH_TOKEN=ghp_secret_token_value
	"$Q" add -- sh -c 'pwd; echo "$Q_TEST_VAR"; echo "gh=${GH_TOKEN-unset}"' >"$scratch/env.id"
)
env_id=$(cat env.id)
like "$env_id" "$idre" "add from a subdirectory prints an id"
check "the secret GH_TOKEN is not in the job file" \
	sh -c "! grep -q ghp_secret_token_value '$(job_file "$env_id")'"
unset Q_TEST_VAR
cd / && q worker --once >/dev/null 2>&1
cd "$scratch" || exit 1
run_q log "$env_id"
is "$out" "$(printf '%s\n' "$scratch/sub dir/deeper" 'value with spaces $HOME' 'gh=unset')" \
	"job ran in the add-time cwd with the add-time environment (no GH_TOKEN)"
run_q show --json "$env_id"
is "$(jpy 'j["cwd"]' <<<"$out")" "$scratch/sub dir/deeper" "show --json cwd"

# --- the job's own environment -------------------------------------------------

run_q add -- sh -c 'echo "id=$Q_JOB_ID attempt=$Q_ATTEMPT spool=$Q_SPOOL"'
qenv_id=$out
run_q worker --once
run_q log "$qenv_id"
is "$out" "id=$qenv_id attempt=1 spool=$Q_SPOOL" "worker sets Q_JOB_ID, Q_ATTEMPT, Q_SPOOL"

# --- a command that cannot be run -------------------------------------------------

run_q add -- "$scratch/no-such-program"
nx_id=$out
run_q worker --once
is "$rc" 0 "worker exits 0 when a command cannot be started"
run_q result "$nx_id"
is "$rc" 1 "result of a job whose command does not exist exits 1"
run_q show --json "$nx_id"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "spawn_failed"]' \
	"a command that does not exist: failed, spawn_failed"

# --- a cwd that vanished before the job ran -----------------------------------

mkdir gone
run_q -C gone add -- true
gone_id=$out
rmdir gone
run_q worker --once
is "$rc" 0 "worker exits 0 when a job's cwd is gone"
run_q show --json "$gone_id"
is "$(jpy '[j["status"], j["error"]]' <<<"$out")" '["failed", "spawn_failed"]' \
	"a job whose cwd is gone: failed, spawn_failed"

run_q fsck
is "$rc" 0 "fsck is clean after all this"
[ "$rc" = 0 ] || diag "$out" "$err"

done_testing
