#!/bin/sh
# Faults (issue #4): kill -9 during imports, an export during an import,
# two imports at once, a map that fills, a disk that fills, and stores that
# are newer, damaged or not stores at all.
. "${top_srcdir:-.}/tests/lib.sh"

GEN="$top_builddir/tools/rewardstore-gen"
obs_of() { rs --db "$1" stats --json | sed -n 's/.*"observations": \([0-9]*\).*/\1/p'; }
recs_of() { rs --db "$1" stats --json | sed -n 's/.*"records": \([0-9]*\).*/\1/p'; }
files_sum() { (cd "$1" && sha256sum data.mdb); }
# a CSV export is well formed: rows in key order, each key once
csv_ok() {
	python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
keys = [(r[1], r[3].encode()) for r in rows[1:]]
assert rows[0][0] == 'id' and all(len(r) == 11 for r in rows), "bad shape"
assert keys == sorted(keys) and len(set(keys)) == len(keys), "not in key order, or a key twice"
print(len(keys))
PY
}

"$GEN" --events 600000 --files 2 --seed 11 "$T/big" 2>/dev/null
BIG="$T/big-0.jsonl $T/big-1.jsonl"

# --- the reference: an uninterrupted import
rs --db "$T/ref" import --no-sync $BIG 2>/dev/null
rs --db "$T/ref" export -o "$T/ref.csv"
assert_eq "reference observations" 600000 "$(obs_of "$T/ref")"

# --- kill -9 at 20 random moments (with a commit every 50,000 events, so
# that kills land between commits and after some); each re-run resumes.
# An import that finishes before its kill must be right too; the store then
# starts again empty, so that later kills land in imports again.
kills=0
round=0
finished=0
finished_bad=0
while [ "$kills" -lt 20 ] && [ "$round" -lt 200 ]; do
	round=$((round + 1))
	# the program itself, not a function: $! must be its pid
	"$RS" --db "$T/k" import --commit-every 50000 $BIG > /dev/null 2>&1 &
	pid=$!
	sleep "0.$(shuf -i 1-30 -n 1 | awk '{ printf "%02d", $1 }')"
	if kill -9 "$pid" 2>/dev/null; then
		kills=$((kills + 1))
		wait "$pid" 2>/dev/null
	elif wait "$pid"; then
		finished=$((finished + 1))
		rs --db "$T/k" export -o "$T/k.csv"
		cmp -s "$T/ref.csv" "$T/k.csv" || finished_bad=$((finished_bad + 1))
		rm -rf "$T/k"
	else
		finished_bad=$((finished_bad + 1))
	fi
done
assert_eq "twenty kills landed during imports" 20 "$kills"
assert_eq "imports that finished between the kills were right ($finished finished)" 0 "$finished_bad"
rs --db "$T/k" import $BIG 2>/dev/null
assert_status "the re-run after the kills completes" 0 $?
rs --db "$T/k" export -o "$T/k.csv"
assert_same_file "killed 20 times: the export of an uninterrupted import" "$T/ref.csv" "$T/k.csv"
assert_eq "killed 20 times: the same observation count" 600000 "$(obs_of "$T/k")"

# --- an export during an import reads one committed snapshot each time
"$RS" --db "$T/c" import --commit-every 50000 $BIG > /dev/null 2>&1 &
pid=$!
last=0
ok_exports=0
bad_exports=0
while kill -0 "$pid" 2>/dev/null; do
	if [ -f "$T/c/data.mdb" ] && rs --db "$T/c" export -o "$T/c.csv" 2>/dev/null; then
		n=$(csv_ok "$T/c.csv") || { bad_exports=$((bad_exports + 1)); continue; }
		[ "$n" -ge "$last" ] || bad_exports=$((bad_exports + 1))
		last=$n
		ok_exports=$((ok_exports + 1))
	fi
	sleep 0.05
done
wait "$pid"
assert_status "the import under concurrent exports" 0 $?
assert_eq "every concurrent export was whole and in order" 0 "$bad_exports"
assert_eq "exports did run during the import" 1 "$([ "$ok_exports" -ge 2 ] && echo 1 || echo 0)"

# --- two imports at once on one store: both finish (one waits for the
# other: one writing process at a time)
"$RS" --db "$T/two" import --no-sync "$T/big-0.jsonl" 2>/dev/null &
p1=$!
"$RS" --db "$T/two" import --no-sync "$T/big-1.jsonl" 2>/dev/null &
p2=$!
wait "$p1"
s1=$?
wait "$p2"
s2=$?
assert_eq "two imports at once both succeed" "0 0" "$s1 $s2"
rs --db "$T/two" export -o "$T/two.csv"
assert_same_file "two imports at once give the single import's export" "$T/ref.csv" "$T/two.csv"

# a writer waits while another process holds the store's lock, then runs
if command -v flock > /dev/null; then
	flock "$T/two" sleep 2 &
	holder=$!
	sleep 0.3
	"$RS" --db "$T/two" import --no-sync "$T/big-0.jsonl" > /dev/null 2>&1 &
	p1=$!
	sleep 0.7
	assert_eq "an import waits while another process writes" 1 \
		"$(kill -0 "$p1" 2> /dev/null && echo 1 || echo 0)"
	wait "$holder"
	wait "$p1"
	assert_status "and runs when it is done" 0 $?
fi
# an export's second half leaves no file behind
mkdir -p "$T/out"
rs --db "$T/two" export -o "$T/out/two.csv"
assert_eq "the export leaves only its output" "two.csv" "$(ls "$T/out")"

# two imports of the same input at once: each commit checks that the
# input's progress is what it last saw, so one may stop with a conflict;
# nothing is applied twice, and a re-run finishes
"$RS" --db "$T/same" import --no-sync "$T/big-0.jsonl" 2>"$T/same1.err" &
p1=$!
"$RS" --db "$T/same" import --no-sync "$T/big-0.jsonl" 2>"$T/same2.err" &
p2=$!
wait "$p1"
s1=$?
wait "$p2"
s2=$?
assert_eq "the same input twice at once: each succeeds or reports the conflict" 1 \
	"$( { [ "$s1" -eq 0 ] || grep -q 'another import is applying' "$T/same1.err"; } &&
	    { [ "$s2" -eq 0 ] || grep -q 'another import is applying' "$T/same2.err"; } && echo 1 || echo 0)"
rs --db "$T/same" import "$T/big-0.jsonl" 2>/dev/null
assert_eq "the same input twice at once: applied once" "$(grep -c . "$T/big-0.jsonl")" "$(obs_of "$T/same")"

# --- a map that fills grows instead of failing
"$GEN" --events 20000 --files 1 --seed 3 "$T/small" 2>/dev/null
rs --db "$T/small-ref" import "$T/small-0.jsonl" 2>/dev/null
rs --db "$T/small-ref" export -o "$T/small-ref.csv"
REWARDSTORE_MAP_SIZE=65536 rs --db "$T/map" import "$T/small-0.jsonl" 2>/dev/null
assert_status "import into a 64 KiB map" 0 $?
rs --db "$T/map" export -o "$T/map.csv"
assert_same_file "a grown map holds the same records" "$T/small-ref.csv" "$T/map.csv"
assert_eq "the map grew" 1 "$(rs --db "$T/map" stats --json | awk -F'[:,]' '/map_bytes/ { print ($2 > 65536) }')"

# every write grows a full map, the catalog's too
awk 'BEGIN { print "id,code,name"; for (i = 0; i < 3000; i++)
	printf "%08x-0000-4000-8000-%012x,char-%05d,name number %d\n", i, i, i, i }' > "$T/bigcat.csv"
REWARDSTORE_MAP_SIZE=32768 rs --db "$T/catmap" catalog "$T/bigcat.csv" 2>/dev/null
assert_status "a 3,000-code catalog into a 32 KiB map" 0 $?
rs --db "$T/catmap" import "$T/small-0.jsonl" 2>/dev/null
rs --db "$T/catmap" verify --json > "$T/catmap.json"
assert_grep "all of it was stored" '"codes_unknown_to_catalog": \{"count": 60,' "$T/catmap.json"

# --- a disk that fills: a clear error, and the store as at its last commit
if mkdir -p "$T/tiny" && mount -t tmpfs -o size=512k tmpfs "$T/tiny" 2>/dev/null; then
	rs --db "$T/tiny/s" import "$T/small-0.jsonl" 2> "$T/tiny.err"
	st=$?
	assert_status "import onto a full disk" 1 "$st"
	assert_grep "the error says so" "no space left on device" "$T/tiny.err"
	# the store opens, reads whole, and its records match its sources' progress
	rs --db "$T/tiny/s" export -o "$T/tiny.csv" 2>/dev/null
	st=$?
	assert_eq "the store still exports" 1 "$([ "$st" -eq 0 ] || [ "$st" -eq 3 ] && echo 1 || echo 0)"
	csv_ok "$T/tiny.csv" > /dev/null
	assert_status "its export is whole" 0 $?
	committed=$(rs --db "$T/tiny/s" stats --json | python3 -c 'import json,sys; print(sum(s["events"] for s in json.load(sys.stdin)["sources"]))')
	assert_eq "observations = what the committed progress says" "$committed" "$(obs_of "$T/tiny/s")"
	umount "$T/tiny"
else
	echo "faults: cannot mount a tmpfs here (not root?): the full-disk case is skipped"
fi

# --- stores that must not be touched: one line of error, no change
cp -r "$T/small-ref" "$T/newer"
mdb_dump -s meta "$T/newer" > "$T/meta.dump"
# the value after the key "format" (hex 666f726d6174) is the version: make
# it one more than this build's
newer=$(( $(rs --version | sed -n 's/.*store format \([0-9]*\).*/\1/p') + 1 ))
awk -v v="$(printf ' %02x000000' "$newer")" \
	'prev == " 666f726d6174" { print v; prev = ""; next } { print; prev = $0 }' "$T/meta.dump" > "$T/meta2.dump"
mdb_load -s meta "$T/newer" < "$T/meta2.dump" 2>/dev/null
before=$(files_sum "$T/newer")
rs --db "$T/newer" export > /dev/null 2> "$T/newer.err"
assert_status "a newer store: export" 1 $?
rs --db "$T/newer" import "$T/small-0.jsonl" 2>> "$T/newer.err"
assert_status "a newer store: import" 1 $?
assert_grep "a newer store is named" "has format $newer, newer than this rewardstore reads" "$T/newer.err"
assert_eq "one line per refusal" 2 "$(grep -c . "$T/newer.err")"
assert_eq "a newer store is unchanged" "$before" "$(files_sum "$T/newer")"

cp -r "$T/small-ref" "$T/trunc"
truncate -s 65536 "$T/trunc/data.mdb"
before=$(files_sum "$T/trunc")
rs --db "$T/trunc" export > /dev/null 2> "$T/trunc.err"
assert_status "a truncated store" 1 $?
assert_grep "truncation is named" "is damaged: data.mdb has 65536 bytes" "$T/trunc.err"
assert_eq "one line" 1 "$(grep -c . "$T/trunc.err")"
rs --db "$T/trunc" import "$T/small-0.jsonl" 2>/dev/null
assert_status "import into a truncated store" 1 $?
assert_eq "a truncated store is unchanged" "$before" "$(files_sum "$T/trunc")"

cp -r "$T/small-ref" "$T/garbled"
# both meta pages garbled
head -c 8192 /dev/urandom | dd of="$T/garbled/data.mdb" conv=notrunc 2>/dev/null
before=$(files_sum "$T/garbled")
rs --db "$T/garbled" stats > /dev/null 2> "$T/garbled.err"
assert_status "garbled meta pages" 1 $?
assert_eq "one line" 1 "$(grep -c . "$T/garbled.err")"
rs --db "$T/garbled" import "$T/small-0.jsonl" 2>/dev/null
assert_status "import into a garbled store" 1 $?
assert_eq "a garbled store is unchanged" "$before" "$(files_sum "$T/garbled")"

: > "$T/plainfile"
rs --db "$T/plainfile" import "$T/small-0.jsonl" 2> "$T/plain.err"
assert_status "a file as the store" 1 $?
assert_grep "a file is not a store" "is not a store \\(not a directory\\)" "$T/plain.err"

# --- the history records each run
rs --db "$T/k" history > "$T/history.out"
assert_status "history" 0 $?
assert_grep "history lists runs" "^run [0-9]+: .*	import	ok$" "$T/history.out"

finish
