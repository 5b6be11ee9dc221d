#!/bin/bash
# The bash completion (tools/completion/rewardstore, issue #18), driven as
# bash drives it: COMP_WORDS and COMP_CWORD set, the function called,
# COMPREPLY read.  Every command the program lists and every option its
# --help shows are offered.
. "${top_srcdir:-.}/tests/lib.sh"
# shellcheck source=/dev/null
. "$top_srcdir/tools/completion/rewardstore"

# complete WORD...: what completing the last word offers, one line, sorted
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_rewardstore 2>/dev/null
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

assert_eq "commands" "catalog compact export get history import import-dump map merge reduce stats verify" \
	"$(complete_words rewardstore '')"
assert_eq "a command's start" "import import-dump" "$(complete_words rewardstore imp)"
assert_eq "after --db DIR" "map merge" "$(complete_words rewardstore --db x m)"
assert_eq "export --format" "csv jsonl sql text" "$(complete_words rewardstore export --format '')"
assert_eq "import-dump --format" "csv text" "$(complete_words rewardstore import-dump --format '')"
assert_eq "--character-id" "catalog newest oldest" \
	"$(complete_words rewardstore export --character-id '')"
assert_eq "export's options" "--changed-since --character-id" "$(complete_words rewardstore export --ch)"

# file names where a command takes files; directories for stores
mkdir -p "$T/logs/sub"
: > "$T/logs/a.jsonl"
: > "$T/logs/b.jsonl"
assert_eq "import's files" "$T/logs/a.jsonl $T/logs/b.jsonl" \
	"$(complete_words rewardstore import "$T/logs/" | tr ' ' '\n' | grep -v sub | tr '\n' ' ' | sed 's/ $//')"
assert_eq "--db offers directories" "$T/logs/sub" "$(complete_words rewardstore --db "$T/logs/s")"
assert_eq "--rejects offers files" "$T/logs/a.jsonl" \
	"$(complete_words rewardstore import --rejects "$T/logs/a")"

# every option each command's --help shows is offered for it
for cmd in import import-dump catalog export get merge map reduce compact stats verify history; do
	for opt in $("$RS" "$cmd" --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
		got=$(complete_words rewardstore "$cmd" "$opt")
		case " $got " in
		*" $opt "*) ok ;;
		*) not_ok "$cmd: '$opt' from its --help is not offered (got '$got')" ;;
		esac
	done
done
finish
