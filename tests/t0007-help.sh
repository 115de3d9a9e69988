#!/usr/bin/env bash
# Every command is in `q --help` and in q.1; unknown commands are usage errors.
. "$(dirname "$0")/lib.sh"

fixed="add worker push list show log events result cancel retry hold release
pause resume progress status watch gc fsck"

run_q --help
is "$rc" 0 "q --help exits 0"
help=$out
isnt "$help" "" "q --help prints something on stdout"
run_q help
is "$rc" 0 "q help exits 0"
is "$out" "$help" "q help prints the same as q --help"
run_q --version
is "$rc" 0 "q --version exits 0"
like "$out" '[0-9]' "q --version prints a version"

check "q.1 exists" test -f "$QDOC"
man1=$(cat "$QDOC" 2>/dev/null)

# in_man NAME: NAME appears in q.1 as a command (after a macro or in bold).
in_man() {
	grep -E -q "^\.[A-Za-z]+ +(\"?q )?\"?$1\b|\\\\fB(q )?$1\b|^\.It Cm $1\b|^$1\b" <<<"$man1"
}

# in_help NAME: NAME appears in the help text as a word.
in_help() {
	grep -E -q "(^|[^a-z-])$1([^a-z-]|$)" <<<"$help"
}

for c in $fixed; do
	check "'$c' is in q --help" in_help "$c"
	check "'$c' is in q.1" in_man "$c"
done

# The commands listed by --help: the first word of an indented line,
# optionally after "q ". Whatever q treats as a command must be in q.1.
run_q nosuchcmd
is "$rc" 2 "q nosuchcmd exits 2"
is "$(printf '%s' "$err" | grep -c '')" 1 "q nosuchcmd: one line on stderr"
like "$err" "^q: .*nosuchcmd" "q nosuchcmd: 'q: ...' naming the command"
unknown_msg=$err
candidates=$(sed -n -E 's/^[[:space:]]+(q[[:space:]]+)?([a-z][a-z0-9-]*)([[:space:]].*)?$/\2/p' <<<"$help" | sort -u)
ncmd=0
for c in $candidates; do
	# Ask q whether CAND is a command: an unknown command gets the same
	# message as nosuchcmd. The bogus option stops a real one from acting.
	run_q "$c" --no-such-option-zz
	[ "$err" = "${unknown_msg//nosuchcmd/$c}" ] && continue
	ncmd=$((ncmd + 1))
	case " $(echo $fixed) " in *" $c "*) continue ;; esac
	check "'$c' (listed by --help) is in q.1" in_man "$c"
done
note "commands found in --help: $ncmd"
[ "$ncmd" -ge 19 ]
ok $? "at least the 19 fixed commands were found in the --help listing ($ncmd)"

# A command with a bad option: exit 2, no spool created.
for c in $fixed; do
	run_q "$c" --no-such-option-zz
	is "$rc" 2 "q $c --no-such-option-zz exits 2"
done
check "no spool was created by any of that" test ! -e "$Q_SPOOL"

done_testing
