#!/usr/bin/env bash
# Every command's usage line (q help CMD) is its SYNOPSIS line in q.1, word for word.
. "$(dirname "$0")/lib.sh"

# The SYNOPSIS of q.1 as plain text, one command per line, spaces squeezed.
synopsis=$(groff -man -Tascii -rLL=3000n -P-cbou "$QDOC" 2>/dev/null |
	sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | tr -s ' ' | sed 's/^ //')
isnt "$synopsis" "" "q.1 renders a SYNOPSIS"

run_q --help
cmds=$(sed -n 's/^  \([a-z]\+\) .*/\1/p' <<<"$out")
isnt "$cmds" "" "q --help lists commands"
for c in $cmds; do
	run_q help "$c"
	is "$rc" 0 "q help $c exits 0"
	usage=$(sed -n 's/^usage: //p' <<<"$out" | tr -s ' ')
	like "$usage" "^q $c" "q help $c prints its usage line"
	check "usage of '$c' is in q.1's SYNOPSIS: $usage" grep -Fqx -- "$usage" <<<"$synopsis"
	run_q "$c" --help
	is "$out" "$(q help "$c")" "q $c --help is q help $c"
done
done_testing
