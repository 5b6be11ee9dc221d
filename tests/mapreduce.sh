#!/bin/sh
# Map and reduce (issue #16), without an engine: generated logs with bad
# lines and a catalog, mapped by 1 to 4 mappers (whole files and byte
# ranges) into N = 1, 2, 3 and 7 partitions and reduced in scrambled
# order, export byte for byte what one import does, in every format,
# concatenated or through 'export STORE...'; the rejects and the sources'
# counts agree too.  Then the refusals: a damaged or truncated partition
# file, partitions of another N or K, stores out of order.
. "${top_srcdir:-.}/tests/lib.sh"

GEN="$top_builddir/tools/rewardstore-gen"
obs_of() { rs --db "$1" stats --json | sed -n 's/.*"observations": \([0-9]*\).*/\1/p'; }
rej_of() { rs --db "$1" stats --json | sed -n 's/.*"rejected": \([0-9]*\).*/\1/p' | head -1; }
"$GEN" --events 24000 --files 4 --seed 9 --bad-rate 0.01 --catalog "$T/cat.csv" "$T/ev" 2>/dev/null
IN="$T/ev-0.jsonl $T/ev-1.jsonl $T/ev-2.jsonl $T/ev-3.jsonl"

# compact_all N [CATALOG]: partition k of every mapper merged by
# 'compact' (no store) into $T/c/run-k and its export $T/c/csv-k
compact_all() {
	n=$1
	rm -rf "$T/c"
	mkdir -p "$T/c"
	cstatus=0
	k=0
	while [ "$k" -lt "$n" ]; do
		parts=$(ls -d "$T"/m/*/ | sed "s|/\$|/part-$k|")
		# shellcheck disable=SC2086
		rs compact ${2:+--catalog "$2"} --out "$T/c/run-$k" --export "$T/c/csv-$k" $parts \
			2>/dev/null || cstatus=$?
		for f in text jsonl; do
			# shellcheck disable=SC2086
			rs compact ${2:+--catalog "$2"} --format "$f" --export "$T/c/$f-$k" $parts \
				2>/dev/null || cstatus=$?
		done
		k=$((k + 1))
	done
}

# the reference: one import
rs --db "$T/one" import -q --rejects "$T/one.rej" $IN 2> "$T/one.err"
assert_status "the reference import has rejects" 3 $?
sort "$T/one.rej" > "$T/one.rej.s"
rs --db "$T/one" catalog "$T/cat.csv" 2>/dev/null
for f in csv text jsonl sql; do
	rs --db "$T/one" export --format "$f" -o "$T/one.$f"
done
rs --db "$T/nocat" import -q $IN 2>/dev/null
rs --db "$T/nocat" export -o "$T/nocat.csv"

# map_all N LAYOUT: mappers over the inputs, one directory each, in $T/m
#   layout 1: one mapper, all four files; 2: files 0+1 and 2+3;
#   4: one file each; r: file 0 in three byte ranges, the others whole
map_all() {
	n=$1
	rm -rf "$T/m" "$T/map.rej"
	case $2 in
	1) set -- "a:$IN" ;;
	2) set -- "a:$T/ev-0.jsonl $T/ev-1.jsonl" "b:$T/ev-2.jsonl $T/ev-3.jsonl" ;;
	4) set -- "a:$T/ev-0.jsonl" "b:$T/ev-1.jsonl" "c:$T/ev-2.jsonl" "d:$T/ev-3.jsonl" ;;
	r)
		size=$(wc -c < "$T/ev-0.jsonl")
		third=$((size / 3))
		# the first cut falls inside a line, the second at one's start
		second=$(head -c $((2 * third)) "$T/ev-0.jsonl" | awk '{ n += length($0) + 1 } END { print n }')
		set -- "a:--range 0:$third $T/ev-0.jsonl" "b:--range $third:$second $T/ev-0.jsonl" \
			"c:--range $second:$size $T/ev-0.jsonl" "d:$T/ev-1.jsonl $T/ev-2.jsonl $T/ev-3.jsonl" ;;
	esac
	mstatus=0
	for m in "$@"; do
		name=${m%%:*}
		# shellcheck disable=SC2086 # the arguments of one mapper
		rs map -q --partitions "$n" --out "$T/m/$name" --rejects "$T/m/$name.rej" ${m#*:} 2>/dev/null
		st=$?
		[ "$st" -eq 3 ] || [ "$st" -eq 0 ] || mstatus=$st
		cat "$T/m/$name.rej" >> "$T/map.rej" 2>/dev/null
	done
	mappers=$#
}

# reduce_all N [CATALOG]: reducer k folds every mapper's part-k, last
# mapper first, into $T/r/k
reduce_all() {
	n=$1
	rm -rf "$T/r"
	mkdir -p "$T/r"
	rstatus=0
	k=0
	while [ "$k" -lt "$n" ]; do
		parts=$(ls -d "$T"/m/*/ | sort -r | sed "s|/\$|/part-$k|")
		# shellcheck disable=SC2086
		rs --db "$T/r/$k" reduce $parts 2>/dev/null || rstatus=$?
		[ -n "${2:-}" ] && rs --db "$T/r/$k" catalog "$2" 2>/dev/null
		k=$((k + 1))
	done
}

stores() { k=0; while [ "$k" -lt "$1" ]; do printf '%s ' "$T/r/$k"; k=$((k + 1)); done; }

for n in 1 2 3 7; do
	for layout in 1 2 4 r; do
		map_all "$n" "$layout"
		assert_status "map N=$n layout $layout: rejects reported" 0 "$mstatus"
		reduce_all "$n" "$T/cat.csv"
		assert_status "reduce N=$n layout $layout" 0 "$rstatus"
		# the exports concatenated, the header once
		rm -f "$T/cat.out"
		k=0
		while [ "$k" -lt "$n" ]; do
			rs --db "$T/r/$k" export -o "$T/part.csv"
			if [ "$k" -eq 0 ]; then cat "$T/part.csv"; else tail -n +2 "$T/part.csv"; fi >> "$T/cat.out"
			k=$((k + 1))
		done
		assert_same_file "N=$n layout $layout ($mappers mappers): concatenated = one import" \
			"$T/one.csv" "$T/cat.out"
		# text and jsonl have no header: plain concatenation
		for f in text jsonl; do
			rm -f "$T/cat.$f"
			for s in $(stores "$n"); do
				rs --db "$s" export --format "$f" >> "$T/cat.$f"
			done
			assert_same_file "N=$n layout $layout: $f exports concatenated = one import" \
				"$T/one.$f" "$T/cat.$f"
		done
		# shellcheck disable=SC2046
		for f in csv text jsonl sql; do
			rs export --format "$f" -o "$T/multi.$f" $(stores "$n")
			assert_same_file "N=$n layout $layout: export --format $f STORE... = one import" \
				"$T/one.$f" "$T/multi.$f"
		done
		# (inputs read at once interleave their rejects: compared sorted)
		sort "$T/map.rej" > "$T/map.rej.s"
		assert_same_file "N=$n layout $layout: the same rejects" "$T/one.rej.s" "$T/map.rej.s"
		# every reducer saw every source: each holds the whole inputs' counts
		assert_eq "N=$n layout $layout: the sources' rejects, as one import's" \
			"$(rej_of "$T/one")" "$(rej_of "$T/r/0")"
		total=0
		for s in $(stores "$n"); do total=$((total + $(obs_of "$s"))); done
		assert_eq "N=$n layout $layout: observations add up" "$(obs_of "$T/one")" "$total"
		# the streaming merge, no store: the same bytes
		compact_all "$n" "$T/cat.csv"
		assert_status "compact N=$n layout $layout" 0 "$cstatus"
		rm -f "$T/ccat.csv" "$T/ccat.text" "$T/ccat.jsonl"
		k=0
		while [ "$k" -lt "$n" ]; do
			if [ "$k" -eq 0 ]; then cat "$T/c/csv-0"; else tail -n +2 "$T/c/csv-$k"; fi >> "$T/ccat.csv"
			cat "$T/c/text-$k" >> "$T/ccat.text"
			cat "$T/c/jsonl-$k" >> "$T/ccat.jsonl"
			k=$((k + 1))
		done
		for f in csv text jsonl; do
			assert_same_file "N=$n layout $layout: compact's $f parts concatenated = one import" \
				"$T/one.$f" "$T/ccat.$f"
		done
		# its run, folded into a store, is the reducer's store
		rs --db "$T/cr" reduce "$T/c/run-0" 2>/dev/null
		rs --db "$T/cr" catalog "$T/cat.csv" 2>/dev/null
		rs --db "$T/cr" export -o "$T/cr.csv"
		rs --db "$T/r/0" export -o "$T/r0.csv"
		assert_same_file "N=$n layout $layout: compact's run = the reducer's store" "$T/r0.csv" "$T/cr.csv"
		assert_eq "N=$n layout $layout: and its observations" "$(obs_of "$T/r/0")" "$(obs_of "$T/cr")"
		rm -rf "$T/cr"
	done
done

# without a catalog too (N=3, one file per mapper)
map_all 3 4
reduce_all 3
# shellcheck disable=SC2046
rs export -o "$T/multi.csv" $(stores 3)
assert_same_file "without a catalog" "$T/nocat.csv" "$T/multi.csv"

# a map whose import commits many times (its sink keeps the first
# commit's runs and appends each later one's): the same files, byte for byte
rm -rf "$T/many" "$T/once"
# shellcheck disable=SC2086
rs map -q --partitions 3 --out "$T/once" $IN 2>/dev/null
# shellcheck disable=SC2086
REWARDSTORE_MAP_COMMIT_EVENTS=700 REWARDSTORE_BATCH_KEYS=256 REWARDSTORE_PARSERS=1 \
	rs map -q --partitions 3 --out "$T/many" $IN 2>/dev/null
for f in part-0 part-1 part-2 sources; do
	assert_same_file "a map of many commits: $f" "$T/once/$f" "$T/many/$f"
done

# the ranges' sources join into the input's: the same sources as one import
map_all 3 r
reduce_all 3
rs --db "$T/one" stats | grep -E '^  [0-9a-f]{32}' | sort > "$T/one.src"
rs --db "$T/r/2" stats | grep -E '^  [0-9a-f]{32}' | sort > "$T/r.src"
assert_same_file "ranges reduced in any order leave one import's sources" "$T/one.src" "$T/r.src"

# and so do they through compact, in any order, and through a second
# compact of its run with a map of nothing new (a re-run's: its inputs
# resumed at their ends)
compact_all 3
rs compact --out "$T/c/since" "$T/m/a/sources" "$T/m/b/sources" "$T/m/c/sources" "$T/m/d/sources" 2>/dev/null
assert_status "compact of the mappers' sources alone" 0 $?
# shellcheck disable=SC2086
rs map -q --partitions 3 --since "$T/c/since" --out "$T/m/none" $IN 2>/dev/null
assert_status "a map of nothing new" 0 $?
rs compact --out "$T/c/again-2" "$T/c/run-2" "$T/m/none/part-2" 2>/dev/null
for run in run-2 again-2; do
	rs --db "$T/cs-$run" reduce "$T/c/$run" 2>/dev/null
	rs --db "$T/cs-$run" stats | grep -E '^  [0-9a-f]{32}' | sort > "$T/c.src"
	assert_same_file "compact's $run leaves one import's sources" "$T/one.src" "$T/c.src"
done
rs --db "$T/cs-run-2" export -o "$T/c1.csv"
rs --db "$T/cs-again-2" export -o "$T/c2.csv"
assert_same_file "a run compacted with nothing new: the same rows" "$T/c1.csv" "$T/c2.csv"
assert_eq "and the same observations, not counted twice" "$(obs_of "$T/cs-run-2")" "$(obs_of "$T/cs-again-2")"

# compact's refusals: another K, a damaged file, nothing to write
rs compact --out "$T/c/x" "$T/m/a/part-0" "$T/m/b/part-1" 2> "$T/ck.err"
assert_status "compact of two partitions" 1 $?
assert_grep "names both" "part-1' is partition 1 of 3 and '.*part-0' partition 0 of 3" "$T/ck.err"
[ ! -e "$T/c/x" ]
assert_status "and writes nothing" 0 $?
rs compact --out "$T/c/x" 2>/dev/null
assert_status "compact of no file" 2 $?
rs compact "$T/m/a/part-0" 2> "$T/cn.err"
assert_status "compact with nothing to write" 2 $?
assert_grep "says what to give" "give --out FILE, --export FILE or both" "$T/cn.err"

# a file folded in again changes nothing
cp "$T/r/1/data.mdb" "$T/before.mdb"
rs --db "$T/r/1" export -o "$T/before.csv"
obs=$(obs_of "$T/r/1")
rs --db "$T/r/1" reduce "$T/m/a/part-1" 2> "$T/again.err"
assert_status "reduce the same file again" 0 $?
assert_grep "says it was folded in" "already folded in, nothing new" "$T/again.err"
rs --db "$T/r/1" export -o "$T/after.csv"
assert_same_file "the same file twice: the same export" "$T/before.csv" "$T/after.csv"
assert_eq "and the same counts" "$obs" "$(obs_of "$T/r/1")"

# partitions of another K, or another N, are refused by name
rs --db "$T/r/1" reduce "$T/m/a/part-2" 2> "$T/k.err"
assert_status "another K" 1 $?
assert_grep "names both" "part-2' is partition 2 of 3, but store '.*' holds partition 1 of 3" "$T/k.err"
rs map -q --partitions 2 --out "$T/n2" "$T/ev-0.jsonl" 2>/dev/null
rs --db "$T/r/1" reduce "$T/n2/part-1" 2> "$T/n.err"
assert_status "another N" 1 $?
assert_grep "names both" "is partition 1 of 2, but store" "$T/n.err"
rs --db "$T/fresh" reduce "$T/m/a/part-0" "$T/m/b/part-1" 2> "$T/two.err"
assert_status "two partitions in one call" 1 $?
assert_grep "says so" "one store takes one partition" "$T/two.err"
[ ! -e "$T/fresh" ]
assert_status "and nothing was created" 0 $?

# damaged files: a flipped byte, a truncated file, not a partition file
cp "$T/m/b/part-0" "$T/bad"
size=$(wc -c < "$T/bad")
printf 'X' | dd of="$T/bad" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cp "$T/r/0/data.mdb" "$T/r0.mdb"
rs --db "$T/r/0" reduce "$T/m/a/part-0" "$T/bad" 2> "$T/bad.err"
assert_status "a damaged file" 1 $?
assert_grep "refused by name" "partition file '.*/bad' is damaged: checksum does not match" "$T/bad.err"
cmp -s "$T/r0.mdb" "$T/r/0/data.mdb"
assert_status "nothing of the call was applied (the good file either)" 0 $?
rs compact --out "$T/c/y" --export "$T/c/y.csv" "$T/m/a/part-0" "$T/bad" 2> "$T/cbad.err"
assert_status "compact of a damaged file" 1 $?
assert_grep "refused by name" "partition file '.*/bad' is damaged: checksum does not match" "$T/cbad.err"
[ ! -e "$T/c/y" ] && [ ! -e "$T/c/y.csv" ] && [ -z "$(ls "$T/c" | grep tmp)" ]
assert_status "and writes nothing, leaves nothing" 0 $?
head -c $((size - 10)) "$T/m/b/part-0" > "$T/short"
rs --db "$T/r/0" reduce "$T/short" 2> "$T/short.err"
assert_status "a truncated file" 1 $?
assert_grep "says truncated" "'.*/short' is damaged: truncated" "$T/short.err"
rs --db "$T/r/0" reduce "$T/ev-0.jsonl" 2> "$T/notpart.err"
assert_status "not a partition file" 1 $?
assert_grep "says so" "is not a partition file" "$T/notpart.err"

# stores out of order, and the map's refusals
# shellcheck disable=SC2046
rs export -o "$T/x.csv" "$T/r/1" "$T/r/0" 2> "$T/order.err"
assert_status "stores out of partition order" 1 $?
assert_grep "says which" "cannot follow" "$T/order.err"
rs map --partitions 3 --out "$T/mm" "$T/no-such.jsonl" 2> "$T/missing.err"
assert_status "a missing input" 1 $?
assert_grep "names it" "no-such.jsonl" "$T/missing.err"
[ ! -e "$T/mm/part-0" ]
assert_status "and writes no partition file" 0 $?
rs map --partitions 0 --out "$T/mm" "$T/ev-0.jsonl" 2>/dev/null
assert_status "--partitions 0" 2 $?
rs map --partitions 2 --out "$T/mm" --range 5:1 "$T/ev-0.jsonl" 2>/dev/null
assert_status "a backwards range" 2 $?
gzip -c "$T/ev-1.jsonl" > "$T/ev-1.jsonl.gz"
rs map --partitions 2 --out "$T/mm" --range 0:100 "$T/ev-1.jsonl.gz" 2> "$T/gz.err"
assert_status "a range of a compressed input" 1 $?
assert_grep "says why" "needs a plain file" "$T/gz.err"
# a compressed input mapped whole is fine, and gives a plain one's records
rs map -q --partitions 2 --out "$T/gz" "$T/ev-1.jsonl.gz" 2>/dev/null
rs map -q --partitions 2 --out "$T/plain" "$T/ev-1.jsonl" 2>/dev/null
rs --db "$T/g0" reduce "$T/gz/part-0" 2>/dev/null
rs --db "$T/p0" reduce "$T/plain/part-0" 2>/dev/null
rs --db "$T/g0" export -o "$T/g0.csv"
rs --db "$T/p0" export -o "$T/p0.csv"
assert_same_file "gzip and plain map to the same records" "$T/p0.csv" "$T/g0.csv"

# --since: a grown log maps only its new lines
head -n 3000 "$T/ev-2.jsonl" > "$T/grow.jsonl"
rs map -q --partitions 2 --out "$T/g1" "$T/grow.jsonl" 2>/dev/null
rs --db "$T/gs0" reduce --sources-out "$T/since" "$T/g1/part-0" 2>/dev/null
assert_status "reduce --sources-out" 0 $?
cat "$T/ev-2.jsonl" > "$T/grow.jsonl"
rs map -q --json --partitions 2 --out "$T/g2" --since "$T/since" "$T/grow.jsonl" > "$T/g2.json" 2>/dev/null
assert_grep "resumes after the old lines" '"skipped_bytes": [1-9]' "$T/g2.json"
for k in 0 1; do
	rs --db "$T/gr$k" reduce "$T/g1/part-$k" "$T/g2/part-$k" 2>/dev/null
done
rs --db "$T/whole2" import -q "$T/ev-2.jsonl" 2>/dev/null
rs --db "$T/whole2" export -o "$T/whole2.csv"
rs export -o "$T/gr.csv" "$T/gr0" "$T/gr1"
assert_same_file "first part, then the grown rest = the whole log" "$T/whole2.csv" "$T/gr.csv"
assert_eq "counted once" "$(obs_of "$T/whole2")" "$(( $(obs_of "$T/gr0") + $(obs_of "$T/gr1") ))"

finish
