#!/bin/sh
# Markdown links in README.md and doc/ (issue #18): every one points at a
# file of the repository that exists -- none leaves it (no URL, no path
# above the top), none is dead.
. "${top_srcdir:-.}/tests/lib.sh"

checked=0
for md in "$top_srcdir/README.md" "$top_srcdir"/doc/*.md; do
	dir=$(dirname "$md")
	# [text](target) -- the targets, one per line, without a #fragment
	for target in $(grep -oE '\]\([^) ]+\)' "$md" | sed -E 's/^\]\(//; s/\)$//; s/#.*//'); do
		[ -n "$target" ] || continue # a link to a heading of the same page
		checked=$((checked + 1))
		name="$(basename "$md"): $target"
		case $target in
		*://* | mailto:*) not_ok "$name: a link that leaves the repository"; continue ;;
		esac
		real=$(realpath -m "$dir/$target")
		top=$(realpath "$top_srcdir")
		case $real in
		"$top"/*) ;;
		*) not_ok "$name: a link above the repository's top"; continue ;;
		esac
		if [ -e "$real" ]; then ok; else not_ok "$name: no such file"; fi
	done
done
[ "$checked" -gt 5 ]
assert_status "links were found to check ($checked)" 0 $?
finish
