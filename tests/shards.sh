#!/bin/sh
# Shards and merge (issue #7): a log imported into 4 shard stores, then
# merged, exports byte-identically to a single import; merging the same
# store twice changes nothing; the shard exports together are the single
# export's rows; and the worked example with GNU parallel runs.
. "${top_srcdir:-.}/tests/lib.sh"

GEN="$top_builddir/tools/rewardstore-gen"
obs_of() { rs --db "$1" stats --json | sed -n 's/.*"observations": \([0-9]*\).*/\1/p'; }
"$GEN" --events 30000 --files 3 --seed 5 "$T/ev" 2>/dev/null
IN="$T/ev-0.jsonl $T/ev-1.jsonl $T/ev-2.jsonl"

rs --db "$T/single" import $IN 2>/dev/null
rs --db "$T/single" export -o "$T/single.csv"
for k in 0 1 2 3; do
	rs --db "$T/shard$k" import --shard "$k/4" $IN 2>/dev/null
	assert_status "import --shard $k/4" 0 $?
done
rs --db "$T/merged" merge "$T/shard0" "$T/shard1" "$T/shard2" "$T/shard3" 2>/dev/null
assert_status "merge the four shards" 0 $?
rs --db "$T/merged" export -o "$T/merged.csv"
assert_same_file "four shards merged = one import" "$T/single.csv" "$T/merged.csv"
assert_eq "observations add up" "$(obs_of "$T/single")" "$(obs_of "$T/merged")"

rs --db "$T/merged" merge "$T/shard2" 2> "$T/again.err"
assert_status "merging a store again" 0 $?
assert_grep "it says so" "already merged, unchanged since" "$T/again.err"
rs --db "$T/merged" export -o "$T/merged2.csv"
assert_same_file "merging the same store twice changes nothing" "$T/merged.csv" "$T/merged2.csv"
assert_eq "nor the counts" "$(obs_of "$T/single")" "$(obs_of "$T/merged")"

# a shard store that grew since its merge is refused, unless --force
rs --db "$T/shard1" import --shard 1/4 "$top_srcdir"/data/logs/*.jsonl 2>/dev/null
rs --db "$T/merged" merge "$T/shard1" 2> "$T/changed.err"
assert_status "a changed store is refused" 1 $?
assert_grep "with the reason" "has changed since; merging it again would count" "$T/changed.err"
rs --db "$T/merged" merge "$T/merged" 2>/dev/null
assert_status "a store into itself" 1 $?

# the shard exports, concatenated and put in key order, are the single export
for k in 0 1 2 3; do rs --db "$T/shard$k" export -o "$T/shard$k.csv"; done
python3 - "$T/single.csv" "$T"/shard0.csv "$T"/shard1.csv "$T"/shard2.csv "$T"/shard3.csv <<'PY'
import csv, sys
rows = lambda f: list(csv.reader(open(f, newline='', encoding='utf-8')))[1:]
single = rows(sys.argv[1])
shards = [r for f in sys.argv[2:] for r in rows(f)]
key = lambda r: (r[1], r[3].encode())
# shard 1 grew by the sample's users of shard 1: compare the generated ones
users = {r[1] for r in single}
shards = sorted((r for r in shards if r[1] in users), key=key)
assert shards == single, "the shards' rows differ from the single export's"
PY
assert_status "shard exports together = the single export's rows" 0 $?

# the worked example of doc/SHARDS.md: N shards under GNU parallel
if command -v parallel >/dev/null; then
	(cd "$T" && parallel --will-cite -j 2 "$RS" --db par{} import --shard {}/3 $IN ::: 0 1 2 2>/dev/null)
	assert_status "GNU parallel runs the shards" 0 $?
	rs --db "$T/par-merged" merge "$T/par0" "$T/par1" "$T/par2" 2>/dev/null
	rs --db "$T/par-merged" export -o "$T/par.csv"
	assert_same_file "GNU parallel's shards, merged" "$T/single.csv" "$T/par.csv"
else
	echo "shards: GNU parallel is not installed (apt-get install parallel): that case is skipped"
fi

finish
