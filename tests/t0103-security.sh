#!/usr/bin/env bash
# Security: the spool's owner and mode are checked, symbolic links in the
# spool are never followed, ids never name paths, commands never go through
# a shell unless asked, and secrets never reach the spool.
. "$(dirname "$0")/lib.sh"

umask 077
have_strace=
command -v strace >/dev/null 2>&1 && have_strace=1

# opened_outside LOG: the openat/stat calls in strace LOG that name a path
# outside the spool, the scratch directory and the system's own files.
opened_outside() {
	grep -E '^[0-9]+ +(open|openat|openat2|stat|newfstatat|statx|lstat|access|faccessat2?|readlink|readlinkat)\(' "$1" |
		grep -vE '"(/etc/ld\.so|/lib|/usr/lib|/proc/self|/etc/localtime|/usr/share/zoneinfo|/dev/null)' |
		grep -E '"(/etc|\.\.|[^"]*/\.\./|/x")' || true
}

# --- the spool's owner and mode ---------------------------------------------

run_q pause
run_q resume
check "the spool exists" test -d "$Q_SPOOL"

chmod 0770 "$Q_SPOOL"
run_q list
is "$rc" 3 "a spool writable by the group is refused (exit 3)"
like "$err" "^q: .*$Q_SPOOL" "the message names the spool"
is "$(wc -l <<<"$err")" 1 "in one line"
run_q add -- true
is "$rc" 3 "q add refuses it too"
chmod 0702 "$Q_SPOOL"
run_q worker --once
is "$rc" 3 "a spool writable by others is refused (exit 3)"
like "$err" "^q: .*$Q_SPOOL" "the message names the spool"
chmod 0700 "$Q_SPOOL"
run_q list
is "$rc" 0 "mode 0700 again: accepted"

if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody "$Q_SPOOL"
	run_q list
	is "$rc" 3 "a spool owned by another user (nobody) is refused (exit 3)"
	like "$err" "^q: .*$Q_SPOOL" "the message names the spool"
	run_q add -- touch "$scratch/owned-add"
	is "$rc" 3 "q add refuses it too"
	run_q worker --once
	is "$rc" 3 "q worker refuses it too"
	chown 0 "$Q_SPOOL"
	run_q list
	is "$rc" 0 "owned by us again: accepted"
else
	skip 7 "not root: cannot give the spool to another user"
fi

# --- a symbolic link planted in pending/ ------------------------------------------

mkdir outside
id=$(make_id)
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
# A valid job, outside the spool: it would leave a mark if it ran.
printf '{"version":1,"id":"%s","type":"exec","argv":["touch","%s/followed"],"cwd":"%s","created_at":"%s"}\n' \
	"$id" "$scratch" "$scratch" "$now" >outside/job
cp outside/job outside/job.orig
touch -d '2001-01-01' outside/job
before=$(stat -c '%s %Y %a' outside/job)
ln -s "$scratch/outside/job" "$Q_SPOOL/pending/5-$id"
run_q worker --once
note "q worker with a symlink in pending/: exit $rc: $err"
check "the symlink's target did not run" test ! -e followed
is "$(stat -c '%s %Y %a' outside/job)" "$before" "the target is untouched (size, mtime, mode)"
check "the target's content is unchanged" cmp -s outside/job outside/job.orig
check "the symlink is gone from pending/" test ! -e "$Q_SPOOL/pending/5-$id" -a ! -L "$Q_SPOOL/pending/5-$id"
q_link=$(find "$Q_SPOOL/quarantine" -type l | head -1)
isnt "$q_link" "" "the symlink is in quarantine/"
[ -n "$q_link" ] && check "a reason lies beside it" test -s "$q_link.reason"
[ -n "$q_link" ] || skip 1 "no quarantined symlink"
run_q show "$id"
is "$rc" 4 "q show: the planted id is no job"

# --- a symbolic link in place of a state directory -----------------------------------

rm -rf "$Q_SPOOL/quarantine"/*
run_q add -- sh -c 'echo ran >>ran.txt'
jid=$out
mkdir elsewhere
mv "$Q_SPOOL/done" "$Q_SPOOL/done.real"
ln -s "$scratch/elsewhere" "$Q_SPOOL/done"
run_q worker --once
note "q worker with done -> elsewhere: exit $rc: $err"
is "$(ls -A elsewhere)" "" "done -> elsewhere: nothing is written through the link"
isnt "$rc" 0 "the worker fails (exit $rc)"
like "$err" "^q: .*done" "with a message naming done"
run_q fsck
isnt "$rc" 0 "q fsck reports the link"
like "$out$err" "done" "and names it"
rm "$Q_SPOOL/done"
mv "$Q_SPOOL/done.real" "$Q_SPOOL/done"
run_q worker --once
run_q fsck
is "$rc" 0 "with done/ back, the job is recovered and fsck is clean"
[ "$rc" = 0 ] || diag "$out" "$err"
run_q result "$jid"
note "after done/ came back: $out"

mv "$Q_SPOOL/pending" "$Q_SPOOL/pending.real"
ln -s "$scratch/elsewhere" "$Q_SPOOL/pending"
run_q add -- touch "$scratch/through-pending"
is "$rc" 3 "pending -> elsewhere: q add fails (exit 3)"
like "$err" "^q: .*pending" "with a message naming pending"
is "$out" "" "and prints no id"
is "$(ls -A elsewhere)" "" "nothing is written through the link"
run_q worker --once
isnt "$rc" 0 "q worker fails too (exit $rc)"
is "$(ls -A elsewhere)" "" "still nothing in the link's target"
check "no job ran through the link" test ! -e through-pending
rm "$Q_SPOOL/pending"
mv "$Q_SPOOL/pending.real" "$Q_SPOOL/pending"

mv "$Q_SPOOL/logs" "$Q_SPOOL/logs.real"
ln -s "$scratch/elsewhere" "$Q_SPOOL/logs"
run_q add -- true
lid=$out
run_q worker --once
isnt "$rc" 0 "logs -> elsewhere: the worker fails (exit $rc)"
is "$(ls -A elsewhere)" "" "no log or event is written through the link"
# What lies at the link's target must never be shown as the job's.
mkdir -p "elsewhere/${lid:0:4}"
echo LEAKED >"elsewhere/${lid:0:4}/$lid.out"
echo '{"at":"2026-01-01T00:00:00.000Z","event":"LEAKED"}' >"elsewhere/${lid:0:4}/$lid.events"
run_q log "$lid"
unlike "$out" LEAKED "logs -> elsewhere: q log does not read through the link"
isnt "$rc" 0 "q log fails (exit $rc)"
run_q events "$lid"
unlike "$out" LEAKED "q events does not read through the link"
run_q show --json "$lid"
unlike "$out" LEAKED "q show does not read through the link"
rm "$Q_SPOOL/logs"
mv "$Q_SPOOL/logs.real" "$Q_SPOOL/logs"
# The same with a bucket of logs/ replaced by a link.
if [ -d "$Q_SPOOL/logs/${lid:0:4}" ]; then
	mv "$Q_SPOOL/logs/${lid:0:4}" "$Q_SPOOL/logs.bucket"
	ln -s "$scratch/elsewhere/${lid:0:4}" "$Q_SPOOL/logs/${lid:0:4}"
	run_q log "$lid"
	unlike "$out" LEAKED "logs/B -> elsewhere: q log does not read through the link"
	run_q events "$lid"
	unlike "$out" LEAKED "q events does not read through the link"
	rm "$Q_SPOOL/logs/${lid:0:4}"
	mv "$Q_SPOOL/logs.bucket" "$Q_SPOOL/logs/${lid:0:4}"
else
	skip 2 "no logs bucket for $lid"
fi
rm -rf elsewhere/*
run_q worker --once
run_q fsck --repair
run_q fsck
is "$rc" 0 "logs/ back: recovered, fsck clean"
[ "$rc" = 0 ] || diag "$out" "$err"

# --- ids never name paths ----------------------------------------------------------

for args in "show ../../etc/passwd" "log ../x" "cancel /etc" "events ../../etc/passwd" \
	"result /etc/passwd" "retry .." "hold ../pending" "show 1m84/../../x"; do
	# shellcheck disable=SC2086
	if [ -n "$have_strace" ]; then
		_q_guard $args
		ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o trace.out timeout 20 "$Q" $args >o.txt 2>e.txt </dev/null
		rc=$?
		out=$(cat o.txt) err=$(cat e.txt)
	else
		run_q $args
	fi
	is "$rc" 2 "q $args: exit 2 (usage error)"
	like "$err" "^q: .*invalid job id" "q $args: 'invalid job id'"
	is "$out" "" "q $args: prints nothing on stdout"
	if [ -n "$have_strace" ]; then
		is "$(opened_outside trace.out)" "" "q $args: opens nothing outside the spool"
	else
		skip 1 "no strace"
	fi
done

# --- no shell unless asked -----------------------------------------------------------

run_q add -- 'echo $HOME; touch pwned'
sid=$out
is "$rc" 0 "q add of a command with shell syntax"
run_q worker --once
run_q show --json "$sid"
is "$(jpy 'j["status"]' <<<"$out")" failed "it fails: no program has that name"
is "$(jpy 'j["exit_code"]' <<<"$out")" 127 "exit 127 (not found)"
check "no file pwned was created here" test ! -e pwned
check "nor in HOME" test ! -e "$HOME/pwned"
run_q add -- echo '$(touch pwned2)' '`touch pwned3`' '; touch pwned4'
eid=$out
run_q worker --once
run_q log "$eid"
is "$out" '$(touch pwned2) `touch pwned3` ; touch pwned4' "arguments reach the program verbatim"
check "and nothing was run by a shell" test ! -e pwned2 -a ! -e pwned3 -a ! -e pwned4

# --- secrets never reach the spool ------------------------------------------------------

export GH_TOKEN=tok_gh_SECRET123 GITHUB_TOKEN=tok_ghub_SECRET456 MYSECRET=s3cr3t_value
run_q add --secret-env MYSECRET -- sh -c \
	'test -n "$GH_TOKEN" && test -n "$GITHUB_TOKEN" && test -n "$MYSECRET" && echo ok'
tid=$out
is "$rc" 0 "q add --secret-env MYSECRET"
run_q worker --once
run_q result "$tid"
is "$rc" 0 "the job completed: the worker supplied the secrets from its environment"
run_q log "$tid"
is "$out" ok "the job saw all three"
run_q show --json "$tid"
run_q events "$tid"
for s in tok_gh_SECRET123 tok_ghub_SECRET456 s3cr3t_value; do
	is "$(grep -rl -- "$s" "$Q_SPOOL")" "" "no file in the spool contains $s"
done
# A worker without the secrets: the job runs without them (never from the spool).
run_q add --secret-env MYSECRET -- sh -c 'test -z "$MYSECRET" && test -z "$GH_TOKEN" && echo none'
tid2=$out
unset GH_TOKEN GITHUB_TOKEN MYSECRET
run_q worker --once
run_q log "$tid2"
is "$out" none "a worker without the secrets gives none"
unset GH_TOKEN GITHUB_TOKEN MYSECRET

done_testing
