#!/usr/bin/env bash
# --key: at most one pending or running job per key.
. "$(dirname "$0")/lib.sh"

# 8 concurrent adds with the same key.
for i in 1 2 3 4 5 6 7 8; do
	q_bg "add$i" add --key K -- true
	eval "p$i=\$bg_pid"
done
fails=0
for i in 1 2 3 4 5 6 7 8; do
	eval "wait \$p$i" || fails=$((fails + 1))
done
is "$fails" 0 "8 concurrent add --key K exit 0"
is "$(cat add?.out | sort -u | wc -l)" 1 "all 8 print the same id"
id=$(head -1 add1.out)
is "$(cat add?.err | grep -c "duplicate of job $id (key 'K')")" 7 \
	"7 of them say 'duplicate of job ID (key 'K')'"
is "$(q list --json | jpy 'len(j)')" 1 "one job in the spool"
is "$(find "$Q_SPOOL/pending" -type f | wc -l)" 1 "one file in pending/"
check "keys/K exists" test -f "$Q_SPOOL/keys/K"
is "$(stat -c %i "$Q_SPOOL/keys/K")" "$(stat -c %i "$Q_SPOOL/pending/5-$id")" \
	"keys/K is a hard link to the job file"
is "$(q show --json "$id" | jpy 'j["key"]')" K "show --json key"

run_q add --json --key K -- true
is "$(jpy '[j["id"], j["duplicate"]]' <<<"$out")" "[\"$id\", true]" "add --json of a duplicate"

# The key is taken while the job is pending or running, free once final.
run_q worker --once
run_q add --key K -- true
is "$rc" 0 "add --key K after the job completed exits 0"
id2=$out
isnt "$id2" "$id" "a new job gets the key once the old one is final"
run_q add --json --key K -- true
is "$(jpy '[j["id"], j["duplicate"]]' <<<"$out")" "[\"$id2\", true]" "the new job now owns the key"
run_q cancel "$id2"
run_q add --key K -- true
id3=$out
isnt "$id3" "$id2" "a cancelled job frees its key"

# Keys with awkward bytes are stored escaped.
run_q add --key '.hidden/x y' -- true
kid=$out
is "$rc" 0 "add with an awkward key exits 0"
names=$(cd "$Q_SPOOL/keys" && ls -A | grep -v -x -e .lock -e K)
like "$names" '^%2[eE]hidden%2[fF]x%20y$' "keys/ holds '%2Ehidden%2Fx%20y'"
run_q add --key '.hidden/x y' -- true
is "$out" "$kid" "the awkward key is recognised"
check "no file outside keys/ was created by the key" test ! -e "$Q_SPOOL/keys/.hidden"

# A key that is too long is a usage error.
long=$(printf 'k%.0s' $(seq 201))
run_q add --key "$long" -- true
is "$rc" 2 "a 201-byte key is a usage error"

# Different keys do not interfere.
run_q add --key A -- true
a=$out
run_q add --key B -- true
isnt "$out" "$a" "different keys give different jobs"

run_q fsck
is "$rc" 0 "fsck clean"

done_testing
