#!/bin/sh
# export --changed-since RUN (issue #18): after a series of runs (imports,
# catalog loads and reloads, a merge, a re-import that changes nothing),
# the delta since every run R holds exactly the rows of the export now
# that differ from the export taken right after R (new keys included),
# each as it is now, in every format; a run the store cannot answer for
# is refused with exit 2.
. "${top_srcdir:-.}/tests/lib.sh"

GEN="$top_builddir/tools/rewardstore-gen"
"$GEN" --events 6000 --files 4 --seed 31 --bad-rate 0.005 --catalog "$T/cat.csv" "$T/ev" 2>/dev/null
# a second catalog: one code renamed, one given another id, one dropped
awk -F, 'NR == 2 { $3 = "renamed" } NR == 3 { $1 = "00000000-0000-4000-8000-000000000001" }
	NR != 4 { print }' OFS=, "$T/cat.csv" > "$T/cat2.csv"

# snapshot: the export in every format right after the run just made
snap() {
	run=$(rs --db "$T/s" history --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["run"])')
	for f in csv text jsonl; do
		rs --db "$T/s" export --format "$f" -o "$T/full-$run.$f"
	done
	last=$run
}
rs --db "$T/s" import -q "$T/ev-0.jsonl" 2>/dev/null; snap     # run 1
rs --db "$T/s" catalog "$T/cat.csv" 2>/dev/null; snap          # run 2: every row's name
rs --db "$T/s" import -q "$T/ev-1.jsonl" 2>/dev/null; snap     # run 3
rs --db "$T/s" import -q "$T/ev-0.jsonl" 2>/dev/null; snap     # run 4: nothing new
rs --db "$T/s" catalog "$T/cat2.csv" 2>/dev/null; snap         # run 5: three codes
rs --db "$T/other" import -q "$T/ev-2.jsonl" 2>/dev/null
rs --db "$T/s" merge "$T/other" 2>/dev/null; snap              # run 6
rs --db "$T/s" import -q "$T/ev-3.jsonl" 2>/dev/null; snap     # run 7
assert_eq "seven runs in the history" 7 "$last"

# the rows of NOW that are not, byte for byte, in THEN (a CSV record may
# span lines: its quotes tell where it ends)
want_delta() { # THEN NOW > the expected delta
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys
def records(path):
    text = open(path, encoding="utf-8", newline="").read()
    head = ""
    if path.endswith(".csv"):
        head, text = text.split("\n", 1)
        head += "\n"
    recs, buf = [], ""
    for line in text.splitlines(True):
        buf += line
        if not path.endswith(".csv") or buf.count('"') % 2 == 0:
            recs.append(buf)
            buf = ""
    return head, recs
head, old = records(sys.argv[1])
_, new = records(sys.argv[2])
old = set(old)
sys.stdout.write(head + "".join(r for r in new if r not in old))
PY
}
# a jsonl delta: the lines of NOW of the keys the CSV delta holds
want_jsonl() { # CSV-DELTA NOW-JSONL > the expected jsonl delta
	/usr/bin/python3 - "$1" "$2" <<'PY'
import csv, json, sys
with open(sys.argv[1], newline="") as f:
    keys = {(r[1], r[3]) for r in list(csv.reader(f))[1:]}
for line in open(sys.argv[2], encoding="utf-8"):
    o = json.loads(line)
    if (o["user_id"], o["code"]) in keys:
        sys.stdout.write(line)
PY
}
r=0
while [ "$r" -le "$last" ]; do
	for f in csv text jsonl; do
		rs --db "$T/s" export --format "$f" --changed-since "$r" -o "$T/delta.$f"
		st=$?
		if [ "$r" -eq 0 ]; then
			# since run 0: everything
			assert_same_file "since run 0 ($f): the whole export" "$T/full-$last.$f" "$T/delta.$f"
		else
			if [ "$f" = jsonl ]; then
				want_jsonl "$T/delta.csv" "$T/full-$last.jsonl" > "$T/want.$f"
			else
				want_delta "$T/full-$r.$f" "$T/full-$last.$f" > "$T/want.$f"
			fi
			assert_same_file "since run $r ($f): the rows that changed" "$T/want.$f" "$T/delta.$f"
		fi
		assert_status "since run $r ($f)" 0 "$st"
	done
	r=$((r + 1))
done
# the deltas are not trivially everything or nothing
n4=$(wc -l < "$T/want.csv")
rs --db "$T/s" export --changed-since 4 -o "$T/d4.csv"
rs --db "$T/s" export --changed-since 3 -o "$T/d3.csv"
assert_same_file "nothing changed in run 4: since 3 = since 4" "$T/d3.csv" "$T/d4.csv"
[ "$(wc -l < "$T/d4.csv")" -gt "$n4" ] && [ "$(wc -l < "$T/d4.csv")" -lt "$(wc -l < "$T/full-7.csv")" ]
assert_status "since run 4: more than the last run's, less than all" 0 $?

# runs the store cannot answer for
rs --db "$T/s" export --changed-since 8 -o "$T/x.csv" 2> "$T/x.err"
assert_status "a run after the last" 2 $?
assert_grep "says so" "there is no run 8 in" "$T/x.err"
rs --db "$T/s" export --changed-since -1 2>/dev/null
assert_status "a negative run" 2 $?
rs export --changed-since 1 "$T/s" "$T/other" 2>/dev/null
assert_status "several stores" 2 $?

finish
