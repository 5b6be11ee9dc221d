#!/bin/sh
# Data-driven cases: each directory under tests/cases holds
#   input*.jsonl      the logs, imported in name order in one run
#   command           (optional) import (the default) or import-dump
#   args              (optional) more options, one line
#   expected.csv      the export
#   expected.status   (optional) the import's exit status (default 0)
#   expected.stderr   (optional) the FILE:LINE: lines import writes
#   expected.rejects  (optional) the rejects file
. "${top_srcdir:-.}/tests/lib.sh"

for dir in "$top_srcdir"/tests/cases/*/; do
	name=$(basename "$dir")
	work="$T/$name"
	mkdir -p "$work"
	cp "$dir"/input* "$work/"
	cmd=$(cat "$dir/command" 2>/dev/null || echo import)
	args=$(cat "$dir/args" 2>/dev/null || true)
	want_status=$(cat "$dir/expected.status" 2>/dev/null || echo 0)
	# shellcheck disable=SC2086 # args is a list of options
	(cd "$work" && rs --db store "$cmd" --rejects rejects $args input*) \
		> "$work/out" 2> "$work/err"
	assert_status "$name: import" "$want_status" $?
	if [ -f "$dir/expected.stderr" ]; then
		grep -E '^input[^:]*:[0-9]+: ' "$work/err" > "$work/reported" || true
		assert_same_file "$name: reported lines" "$dir/expected.stderr" "$work/reported"
	fi
	if [ -f "$dir/expected.rejects" ]; then
		assert_same_file "$name: rejects" "$dir/expected.rejects" "$work/rejects"
	fi
	(cd "$work" && rs --db store export) > "$work/export.csv" 2>/dev/null
	assert_same_file "$name: export" "$dir/expected.csv" "$work/export.csv"
done

finish
