#!/usr/bin/env bash
# The README's examples do what the README says: q installed as its Quick
# start's third command installs it (`make install PREFIX=...`, into the
# scratch directory), then every ```console block of README.md is run in
# order, in a new git repository, with the default settings: each "$ CMD"
# line through bash, its output (stdout and stderr) compared with the lines
# printed under it.
#
# What may differ: job ids (each id the README prints stands for the id q
# printed at the same place, consistently), durations ("1.3s", "14ms") and
# RFC 3339 times, and runs of spaces.  Commands refer to jobs by "@", as a
# reader copying them would; one that names a job id fails the test.
. "$(dirname "$0")/lib.sh"

prefix=$scratch/prefix
make -s -C "$TOP" -o all install PREFIX="$prefix" >install.out 2>&1
ok $? "make install PREFIX=DIR installs q (the Quick start's third command)"
check "q is installed with its manual page" test -x "$prefix/bin/q" -a -f "$prefix/share/man/man1/q.1"
check "and bash completion" test -s "$prefix/share/bash-completion/completions/q"

# A reader's shell: q from PATH, no Q_* settings, a git repository.
unset Q_SPOOL Q_SYNC_MODE
export PATH="$prefix/bin:$PATH"
git init -q repo
cd repo || exit 255
_q_guard status # the spool q will use is the scratch repository's

python3 - "$TOP/README.md" >examples <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
for block in re.findall(r'^```console\n(.*?)^```$', text, re.S | re.M):
    cmd = None
    want = []
    for line in block.splitlines():
        if line.startswith('$ '):
            if cmd is not None:
                sys.stdout.write(cmd + '\0' + '\n'.join(want) + '\0')
            cmd, want = line[2:], []
        else:
            want.append(line)
    if cmd is not None:
        sys.stdout.write(cmd + '\0' + '\n'.join(want) + '\0')
EOF
ok $? "the README's console blocks parse"

n=0
while IFS= read -r -d '' cmd && IFS= read -r -d '' want; do
	n=$((n + 1))
	if [[ $cmd =~ (^|[^0-9a-z])[0-9a-hjkmnp-tv-z]{14}($|[^0-9a-z]) ]]; then
		ok 1 "README example '$cmd' refers to a job by id (use @)"
		continue
	fi
	got=$(timeout 60 bash -c "$cmd" 2>&1 </dev/null)
	printf '%s\0%s\0%s\0' "$cmd" "$want" "$got" >>"$scratch/runs"
done <examples
isnt "$n" 0 "README.md has examples to run"

# Compare with ids bound in order of appearance, durations and times masked.
python3 - "$scratch/runs" >"$scratch/verdicts" <<'EOF'
import re, sys
f = open(sys.argv[1]).read().split('\0')[:-1]
ID = re.compile(r'(?<![0-9a-z])[0-9a-hjkmnp-tv-z]{14}(?![0-9a-z])')
TIME = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z')
DUR = re.compile(r'(?<![\w.])\d+(\.\d+)?(ms|s|m|h|d)(?!\w)')
ids = {}
def norm(s):
    s = TIME.sub('TIME', s)
    s = DUR.sub('DUR', s)
    return '\n'.join(re.sub(' +', ' ', l).rstrip() for l in s.split('\n'))
for i in range(0, len(f), 3):
    cmd, want, got = f[i], f[i + 1], f[i + 2]
    w, g = ID.findall(want), ID.findall(got)
    bad = len(w) != len(g)
    for a, b in zip(w, g):
        if ids.setdefault(a, b) != b:
            bad = True
    for a, b in ids.items():
        want = want.replace(a, b)
    if norm(want) != norm(got):
        bad = True
    sys.stdout.write(('0' if not bad else '1') + '\0' + cmd + '\0' + want + '\0' + got + '\0')
EOF
while IFS= read -r -d '' st && IFS= read -r -d '' cmd && IFS= read -r -d '' want &&
	IFS= read -r -d '' got; do
	if [ "$st" = 0 ]; then
		ok 0 "README: \$ $cmd"
	else
		is "$got" "$want" "README: \$ $cmd (ids, durations and times aside)"
	fi
done <"$scratch/verdicts"

# Nothing is left running or scheduled.
wait_for "q status --json | grep -q '\"pending\":0,\"running\":0'" 30
ok $? "the examples leave nothing pending or running"

done_testing
