#!/bin/sh
# End-to-end tests of the real rewardstore program (doc/CONTRACT.md sections 4-7).
. "${top_srcdir:-.}/tests/lib.sh"

D="$top_srcdir/data"
P1="$D/logs/rewards-2025-12-part1.jsonl"
P2="$D/logs/rewards-2025-12-part2.jsonl"
U1=8b8ec006-2d95-45aa-bdef-e08201f1bb82

run() { rs "$@"; }
export_of() { run --db "$1" export > "$2"; }
obs_of() { run --db "$1" stats --json | sed -n 's/.*"observations": \([0-9]*\).*/\1/p'; }

# --- the sample's export is the expected file, byte for byte
run --db "$T/a" import "$P1" "$P2" 2> "$T/a.err"
assert_status "sample import" 0 $?
assert_grep "summary table" '^source +lines +events +rejected' "$T/a.err"
export_of "$T/a" "$T/a.csv"
assert_status "sample export" 0 $?
assert_same_file "sample export" "$D/expected-export.csv" "$T/a.csv"
assert_eq "sample observations" 11 "$(obs_of "$T/a")"

# --- twice, reversed, one file per run: the same bytes
run --db "$T/a" import "$P1" "$P2" 2> "$T/again.err"
assert_status "second import" 0 $?
assert_grep "second import says so" "already imported" "$T/again.err"
export_of "$T/a" "$T/a2.csv"
assert_same_file "import twice" "$D/expected-export.csv" "$T/a2.csv"
assert_eq "observations applied once" 11 "$(obs_of "$T/a")"

# one input named three times in one run (read by parsers at once): once
cp "$P1" "$T/p1-copy.jsonl"
run --db "$T/t" import "$P1" "$P2" "$P1" "$T/p1-copy.jsonl" 2> "$T/t.err"
assert_status "an input three times in one run" 0 $?
assert_eq "its later readings apply nothing" 2 "$(grep -c "already imported" "$T/t.err")"
export_of "$T/t" "$T/t.csv"
assert_same_file "an input three times in one run: the same export" "$D/expected-export.csv" "$T/t.csv"
assert_eq "an input three times in one run: observations once" 11 "$(obs_of "$T/t")"

run --db "$T/r" import "$P2" "$P1" 2>/dev/null
export_of "$T/r" "$T/r.csv"
assert_same_file "reverse order" "$D/expected-export.csv" "$T/r.csv"

run --db "$T/o" import "$P2" 2>/dev/null
run --db "$T/o" import "$P1" 2>/dev/null
export_of "$T/o" "$T/o.csv"
assert_same_file "one file per run" "$D/expected-export.csv" "$T/o.csv"

# --force reads again: the records do not change
run --db "$T/o" import --force "$P1" 2>/dev/null
export_of "$T/o" "$T/o2.csv"
assert_same_file "forced re-read" "$D/expected-export.csv" "$T/o2.csv"

# --- compressed and streamed input give the same records
gzip -c "$P1" > "$T/p1.gz"
zstd -q -c "$P2" > "$T/p2.zst"
run --db "$T/z" import "$T/p1.gz" "$T/p2.zst" 2>/dev/null
assert_status "gzip and zstd import" 0 $?
export_of "$T/z" "$T/z.csv"
assert_same_file "compressed inputs" "$D/expected-export.csv" "$T/z.csv"
cat "$P1" "$P2" | run --db "$T/stdin" import - 2>/dev/null
assert_status "stdin import" 0 $?
export_of "$T/stdin" "$T/stdin.csv"
assert_same_file "standard input" "$D/expected-export.csv" "$T/stdin.csv"
# gzip's edges (inflated by ISA-L where the build has it, else zlib): two
# members concatenated are one stream; a large file through many buffers;
# a truncated or damaged file is an error that names it
{ gzip -c "$P1"; gzip -c "$P2"; } > "$T/two.gz"
run --db "$T/two" import "$T/two.gz" 2>/dev/null
assert_status "two gzip members" 0 $?
export_of "$T/two" "$T/two.csv"
assert_same_file "two gzip members: one stream" "$D/expected-export.csv" "$T/two.csv"
"$top_builddir/tools/rewardstore-gen" --events 40000 --files 1 --seed 8 "$T/gzbig" 2>/dev/null
gzip -1 -c "$T/gzbig-0.jsonl" > "$T/gzbig.gz"
run --db "$T/gzb" import "$T/gzbig.gz" 2>/dev/null
run --db "$T/gzp" import "$T/gzbig-0.jsonl" 2>/dev/null
export_of "$T/gzb" "$T/gzb.csv"
export_of "$T/gzp" "$T/gzp.csv"
assert_same_file "a 15 MB log, gzip or plain: the same export" "$T/gzp.csv" "$T/gzb.csv"
head -c $(( $(wc -c < "$T/gzbig.gz") / 2 )) "$T/gzbig.gz" > "$T/cut.gz"
run --db "$T/cut" import "$T/cut.gz" 2> "$T/cut.err"
assert_status "a truncated gzip file" 1 $?
assert_grep "says it ends early" "cut.gz': gzip data ends early" "$T/cut.err"
cp "$T/gzbig.gz" "$T/bad.gz"
printf 'XXXXXXXXXXXXXXXX' | dd of="$T/bad.gz" bs=1 seek=5000 conv=notrunc 2>/dev/null
run --db "$T/badgz" import "$T/bad.gz" 2> "$T/badgz.err"
assert_status "a damaged gzip file" 1 $?
assert_grep "says it is damaged" "bad.gz': gzip data is damaged" "$T/badgz.err"

# --- a file that grew resumes at its old end
head -n 3 "$P1" > "$T/grow.jsonl"
run --db "$T/g" import "$T/grow.jsonl" 2>/dev/null
assert_eq "first part" 3 "$(obs_of "$T/g")"
cat "$P1" > "$T/grow.jsonl"
run --db "$T/g" import "$T/grow.jsonl" 2> "$T/g.err"
assert_eq "grown file applies only the new lines" 7 "$(obs_of "$T/g")"
mv "$T/grow.jsonl" "$T/renamed.jsonl"
run --db "$T/g" import "$T/renamed.jsonl" 2> "$T/g2.err"
assert_grep "a renamed file is the same source" "already imported" "$T/g2.err"
assert_eq "renamed file applies nothing" 7 "$(obs_of "$T/g")"

# --- a last line still being written is left for later
{ head -n 1 "$P2"; head -n 2 "$P2" | tail -n 1 | head -c 100; } > "$T/partial.jsonl"
run --db "$T/p" import "$T/partial.jsonl" 2> "$T/p.err"
assert_status "partial last line" 0 $?
assert_grep "partial line warning" "warning: .*has no newline and does not parse yet" "$T/p.err"
assert_eq "partial line not applied" 1 "$(obs_of "$T/p")"
head -n 2 "$P2" > "$T/partial.jsonl"
run --db "$T/p" import "$T/partial.jsonl" 2> "$T/p2.err"
assert_status "completed line" 0 $?
assert_eq "completed line applied once" 2 "$(obs_of "$T/p")"
assert_no_grep "no rejects" ':[0-9]+: ' "$T/p2.err"

# --- bad lines: every good line kept, every bad one reported and copied
{
	head -n 2 "$P1"
	echo '{"user_id":"not-a-uuid","character_code":"x","acquired_at":"2025-01-01T00:00:00Z"}'
	sed -n 3p "$P1"
	echo '{"user_id":"'$U1'","character_code":"x","acquired_at":"2025-02-30T00:00:00Z"}'
	printf '{"truncated": \r\n'
	sed -n '5,$p' "$P1"
} > "$T/bad.jsonl"
run --db "$T/b" import --rejects "$T/rejects.txt" "$T/bad.jsonl" 2> "$T/b.err"
assert_status "import with bad lines" 3 $?
assert_grep "bad uuid reported" "^$T/bad.jsonl:3: \"user_id\" is not a UUID$" "$T/b.err"
assert_grep "bad date reported" "^$T/bad.jsonl:5: \"acquired_at\": impossible date$" "$T/b.err"
assert_grep "truncated reported" "^$T/bad.jsonl:6: truncated JSON$" "$T/b.err"
assert_eq "three rejects" 3 "$(grep -c ':[0-9]*: ' "$T/b.err")"
sed -n '3p;5p;6p' "$T/bad.jsonl" > "$T/want-rejects.txt"
assert_same_file "rejects copied verbatim" "$T/want-rejects.txt" "$T/rejects.txt"
run --db "$T/b" import "$P2" 2>/dev/null
export_of "$T/b" "$T/b.csv"
assert_same_file "good lines all imported" "$D/expected-export.csv" "$T/b.csv"
run --db "$T/b" stats > "$T/b.stats"
assert_grep "stats counts rejects" '^rejected lines +3$' "$T/b.stats"

# --- a line far longer than any event (100 MB): rejected, copied verbatim
# in pieces, the lines around it kept, and memory bounded by the line
# buffer, not the line
{
	head -n 1 "$P1"
	printf '{"user_id":"%s","character_dialog":"' "$U1"
	head -c 100000000 /dev/zero | tr '\0' 'x'
	printf '"}\n'
	sed -n 2p "$P1"
} > "$T/long.jsonl"
run --db "$T/long" import --rejects "$T/long-rejects.txt" "$T/long.jsonl" 2> "$T/long.err"
assert_status "overlong line" 3 $?
assert_grep "overlong line reported" "^$T/long.jsonl:2: line longer than [0-9]+ bytes$" "$T/long.err"
assert_eq "lines around it kept" 2 "$(obs_of "$T/long")"
sed -n 2p "$T/long.jsonl" > "$T/long-want.txt"
assert_same_file "overlong line copied verbatim" "$T/long-want.txt" "$T/long-rejects.txt"
rm -f "$T/long.jsonl" "$T/long-want.txt" "$T/long-rejects.txt"

# --- a large input is read in segments that any parser takes: the same
# records, rejects (in order, with their line numbers), counts and progress
# as one parser reading it all -- with bad lines, a line longer than the
# line buffer across several segments, a last line still being written,
# and a resumed import (REWARDSTORE_SEGMENT_BYTES makes segments small)
"$top_builddir/tools/rewardstore-gen" --events 6000 --files 1 --seed 21 --bad-rate 0.02 "$T/seg" 2>/dev/null
{
	head -n 2500 "$T/seg-0.jsonl"
	printf '{"user_id":"%s","character_dialog":"' "$U1"
	head -c 5000000 /dev/zero | tr '\0' 'y'
	printf '"}\n'
	sed -n '2501,$p' "$T/seg-0.jsonl"
	head -n 1 "$P2" | head -c 90
} > "$T/seg.jsonl"
size=$(wc -c < "$T/seg.jsonl")
# cut mid-line, past the long line: a first import of a shorter file
head -c $((size - 400017)) "$T/seg.jsonl" > "$T/seg-part.jsonl"
seg_import() { # NAME PARSERS: the part, then the whole file, into store NAME
	cp "$T/seg-part.jsonl" "$T/segin.jsonl"
	for step in 1 2; do
		REWARDSTORE_PARSERS=$2 REWARDSTORE_SEGMENT_BYTES=65536 \
			run --db "$T/$1" import --rejects "$T/$1.rej" "$T/segin.jsonl" \
			> /dev/null 2> "$T/$1.err$step"
		echo $? >> "$T/$1.status"
		# the summary's time column differs from run to run
		sed 's/ *[0-9.]*s$//' "$T/$1.err$step" > "$T/$1.msg$step"
		cp "$T/seg.jsonl" "$T/segin.jsonl"
	done
	export_of "$T/$1" "$T/$1.csv"
	run --db "$T/$1" stats --json > "$T/$1.stats"
}
seg_import seg1 1
seg_import seg3 3
assert_eq "segments: exit statuses" "$(cat "$T/seg1.status")" "$(cat "$T/seg3.status")"
assert_same_file "segments: messages of the first import" "$T/seg1.msg1" "$T/seg3.msg1"
assert_same_file "segments: messages of the resumed import" "$T/seg1.msg2" "$T/seg3.msg2"
assert_same_file "segments: rejects" "$T/seg1.rej" "$T/seg3.rej"
assert_same_file "segments: export" "$T/seg1.csv" "$T/seg3.csv"
assert_same_file "segments: stats and progress" "$T/seg1.stats" "$T/seg3.stats"
assert_grep "segments: the overlong line" "segin.jsonl:2501: line longer than" "$T/seg1.msg1"
assert_grep "segments: the last line waits" "has no newline and does not parse yet" "$T/seg1.msg2"
assert_eq "segments: every line read once" "$(wc -l < "$T/seg.jsonl" | tr -d ' ')" \
	"$(sed -n 's/.*"lines": \([0-9]*\).*/\1/p' "$T/seg1.stats")"
rm -rf "$T"/seg*

# --- one large commit (runs past 8 MiB: the fold thread, and the thread
# that populates the map ahead of LMDB) gives the store that many small
# commits give
"$top_builddir/tools/rewardstore-gen" --events 100000 --files 2 --seed 23 "$T/lc" 2>/dev/null
run --db "$T/lc-one" import --no-sync "$T/lc-0.jsonl" "$T/lc-1.jsonl" > /dev/null 2>&1
assert_status "one large commit" 0 $?
run --db "$T/lc-many" import --no-sync --commit-every 10000 "$T/lc-0.jsonl" "$T/lc-1.jsonl" > /dev/null 2>&1
assert_status "many small commits" 0 $?
export_of "$T/lc-one" "$T/lc-one.csv"
export_of "$T/lc-many" "$T/lc-many.csv"
assert_same_file "one commit or many: the same rows" "$T/lc-many.csv" "$T/lc-one.csv"
assert_eq "one commit or many: every row" 100000 "$(obs_of "$T/lc-one")"
rm -rf "$T"/lc*

# --- strict: stop at the first bad line, keep what came before, resume there
run --db "$T/s" import --strict "$T/bad.jsonl" 2> "$T/s.err"
assert_status "strict stops" 1 $?
assert_grep "strict names file and line" "$T/bad.jsonl:3: \"user_id\" is not a UUID" "$T/s.err"
assert_eq "lines before the bad one kept" 2 "$(obs_of "$T/s")"
{ head -n 2 "$P1"; sed -n '3,$p' "$P1"; } > "$T/bad.jsonl"
run --db "$T/s" import --strict "$T/bad.jsonl" 2>/dev/null
assert_status "strict after the fix" 0 $?
assert_eq "resumed at the fixed line" 7 "$(obs_of "$T/s")"

# --- where the store is: --db before or after, $REWARDSTORE_DB, ./rewardstore.db
(cd "$T" && rs import "$P1" 2>/dev/null && test -f rewardstore.db/data.mdb)
assert_status "default store path" 0 $?
(REWARDSTORE_DB="$T/env"; export REWARDSTORE_DB; rs import "$P1" 2>/dev/null)
assert_status "REWARDSTORE_DB" 0 $?
test -f "$T/env/data.mdb"
assert_status "REWARDSTORE_DB created the store" 0 $?
run import --db "$T/after" "$P1" 2>/dev/null
test -f "$T/after/data.mdb"
assert_status "--db after the command" 0 $?

# --- export options
run --db "$T/a" export -o "$T/out.csv"
assert_status "export -o" 0 $?
assert_same_file "export -o" "$D/expected-export.csv" "$T/out.csv"
# a FIFO is written in place, not renamed over (as root, renaming over
# /dev/null once replaced the device with a file)
mkfifo "$T/fifo"
timeout 60 cat "$T/fifo" > "$T/from-fifo.csv" &
run --db "$T/a" export -o "$T/fifo"
assert_status "export -o FIFO" 0 $?
wait
test -p "$T/fifo"
assert_status "export -o FIFO: still a FIFO" 0 $?
assert_same_file "export -o FIFO: the rows" "$D/expected-export.csv" "$T/from-fifo.csv"
# a symbolic link stays one; the file it names gets the rows
echo stale > "$T/real.csv"
ln -s real.csv "$T/link.csv"
run --db "$T/a" export -o "$T/link.csv"
assert_status "export -o link" 0 $?
test -L "$T/link.csv"
assert_status "export -o link: still a link" 0 $?
assert_same_file "export -o link: the file it names" "$D/expected-export.csv" "$T/real.csv"
run --db "$T/a" export --user "$(echo $U1 | tr a-f A-F)" > "$T/user.csv"
# rows start with their id; a quoted dialog may span lines
assert_eq "--user rows" 2 "$(grep -c '^[0-9a-f]\{8\}-' "$T/user.csv")"
assert_eq "--user rows are that user's" 0 "$(grep '^[0-9a-f]\{8\}-' "$T/user.csv" | grep -vc ",$U1,")"
run --db "$T/a" export --character-id oldest > "$T/oldest.csv"
assert_grep "oldest id of char-paepy" ",$U1,c7df88f5-66af-4d75-bcd4-1825a5692738,char-paepy," "$T/oldest.csv"
assert_grep "oldest id of char-petty" ",$U1,44490ae4-e02b-451b-8bed-b2e43f8edeee,char-petty," "$T/oldest.csv"

# --- rows that cannot be loaded are held back: exit 3
echo '{"user_id":"'$U1'","character_code":"nameless","acquired_at":"2025-01-01T00:00:00Z"}' > "$T/held.jsonl"
run --db "$T/h" import "$T/held.jsonl" 2>/dev/null
run --db "$T/h" export > "$T/h.csv" 2> "$T/h.err"
assert_status "held-back rows" 3 $?
assert_grep "held back message" "1 rows held back" "$T/h.err"
assert_eq "only the header" 1 "$(wc -l < "$T/h.csv" | tr -d ' ')"

# --- dumps and the catalog: the seed incident, healed
DUMP="$D/dump-user_characters.csv"
CAT="$D/catalog.csv"
run --db "$T/full" import "$P1" "$P2" 2>/dev/null
run --db "$T/full" import-dump "$DUMP" 2> "$T/full.err"
assert_status "import-dump" 0 $?
assert_grep "a multi-line CSV dump counts its lines" "dump-user_characters.csv +7 +4 +0" "$T/full.err"
run --db "$T/full" catalog "$CAT" 2> "$T/cat.err"
assert_status "catalog" 0 $?
assert_grep "catalog says what it loaded" "catalog: 5 codes loaded" "$T/cat.err"
export_of "$T/full" "$T/full.csv"
assert_same_file "logs + dump + catalog" "$D/expected-export-with-dump-and-catalog.csv" "$T/full.csv"
# the same inputs the other way round
run --db "$T/full2" catalog "$CAT" 2>/dev/null
run --db "$T/full2" import-dump "$DUMP" 2>/dev/null
run --db "$T/full2" import "$P2" "$P1" 2>/dev/null
export_of "$T/full2" "$T/full2.csv"
assert_same_file "any order" "$D/expected-export-with-dump-and-catalog.csv" "$T/full2.csv"
run --db "$T/full" import-dump "$DUMP" 2> "$T/again.err"
assert_grep "a dump imported twice applies nothing" "already imported" "$T/again.err"

# verify: the seed's analysis
run --db "$T/full" verify > "$T/verify.out"
assert_status "verify finds the seed's problems" 3 $?
assert_grep "several ids" "^keys whose observations carried several character_ids: 2$" "$T/verify.out"
assert_grep "stale ids" "a68c313e-3fd3-41b6-ae90-72640c6f0aba" "$T/verify.out"
assert_grep "duplicate dump rows" "^duplicate dump rows: 2$" "$T/verify.out"
run --db "$T/full" verify --json > "$T/verify.json"
assert_status "verify --json" 3 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["several_ids"]["count"] == 2 and d["duplicate_dump_row_count"] == 2' "$T/verify.json"
assert_status "verify --json is JSON with the counts" 0 $?
echo '{"user_id":"'$U1'","character_code":"char-paepy","character_name":"패피","acquired_at":"2025-01-01T00:00:00Z"}' > "$T/clean.jsonl"
run --db "$T/clean" import "$T/clean.jsonl" 2>/dev/null
run --db "$T/clean" catalog "$CAT" 2>/dev/null
run --db "$T/clean" verify > /dev/null
assert_status "verify on a clean store" 0 $?

# the catalog policy: default with a catalog, and the fallback warning
echo '{"user_id":"'$U1'","character_code":"char-unknown","character_id":"c7df88f5-66af-4d75-bcd4-1825a5692738","character_name":"X","acquired_at":"2025-01-01T00:00:00Z"}' > "$T/unk.jsonl"
run --db "$T/clean" import "$T/unk.jsonl" 2>/dev/null
run --db "$T/clean" export > "$T/clean.csv" 2> "$T/clean.err"
assert_grep "catalog heals the missing id" ",$U1,c7df88f5-66af-4d75-bcd4-1825a5692738,char-paepy,패피," "$T/clean.csv"
assert_grep "fallback warning" "1 rows of codes the catalog lacks took their newest character_id" "$T/clean.err"

# get: the API's items
run --db "$T/full" get "$U1" > "$T/get.json"
assert_status "get" 0 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [i["code"] for i in d] == ["char-paepy", "char-petty"] and d[0]["id"] == "c7df88f5-66af-4d75-bcd4-1825a5692738" and d[0]["acquired_at"] == "2025-12-02T23:20:20.199493Z"' "$T/get.json"
assert_status "get prints the user's items" 0 $?
run --db "$T/full" get "$U1" char-petty > "$T/get1.json"
assert_eq "get USER CODE: one item" 1 "$(grep -c '"code":"char-petty"' "$T/get1.json")"

# other formats
run --db "$T/full" export --format jsonl > "$T/full.jsonl"
assert_eq "jsonl: a line per row" 7 "$(wc -l < "$T/full.jsonl" | tr -d ' ')"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/full.jsonl"
assert_status "jsonl lines are JSON" 0 $?
run --db "$T/full" export --format text > "$T/full.txt"
assert_eq "text: a line per row" 7 "$(wc -l < "$T/full.txt" | tr -d ' ')"
grep -qF '안녕! 나는 "패피"야.\n페트병' "$T/full.txt"
assert_status "text escapes newlines" 0 $?
# a text dump, with and without a header, reads back the same rows
run --db "$T/txt" import-dump --format text "$T/full.txt" 2>/dev/null
assert_status "import-dump --format text" 0 $?
export_of "$T/txt" "$T/txt.csv"
assert_same_file "text dump round trip" "$T/full.csv" "$T/txt.csv"
{ printf 'id\tuser_id\tcharacter_id\tcharacter_code\tcharacter_name\tcharacter_type\tcharacter_dialog\tsource\tstatus\tacquired_at\tupdated_at\n'; cat "$T/full.txt"; } > "$T/full-h.txt"
run --db "$T/txth" import-dump --format text --header "$T/full-h.txt" 2>/dev/null
export_of "$T/txth" "$T/txth.csv"
assert_same_file "text dump with a header" "$T/full.csv" "$T/txth.csv"

# dumps that are wrong
printf 'id,character_code,acquired_at\n' > "$T/nouser.csv"
run --db "$T/bd" import-dump "$T/nouser.csv" 2> "$T/bd.err"
assert_status "a header without user_id" 1 $?
assert_grep "the header's problem" "nouser.csv:1: the dump's header lacks the column \"user_id\"" "$T/bd.err"
{ printf 'user_id,character_code,acquired_at,extra\n'; printf '%s,"multi\nline",2025-01-01 00:00:00+00,x\n' "$U1"; printf '%s,c,2025-02-30 00:00:00+00,x\n' "$U1"; printf '%s,"unbalanced,2025-01-01 00:00:00+00,x\n' "$U1"; } > "$T/bad-dump.csv"
run --db "$T/bd" import-dump "$T/bad-dump.csv" 2> "$T/bd2.err"
assert_status "a dump with bad rows" 3 $?
assert_grep "unknown columns warned" 'bad-dump.csv:1: warning: ignoring the dump.s unknown columns "extra"' "$T/bd2.err"
assert_grep "a bad row after a multi-line one names its line" "bad-dump.csv:4: \"acquired_at\": impossible date" "$T/bd2.err"
# an open quote runs to the end of the file: a record still being written
assert_grep "an unbalanced last record is left pending" "bad-dump.csv.: the last line .* does not parse yet" "$T/bd2.err"
printf 'id,code,name\nnot-a-uuid,c,n\nc7df88f5-66af-4d75-bcd4-1825a5692738,char-a,A\nc7df88f5-66af-4d75-bcd4-1825a5692739,char-a,B\n' > "$T/badcat.csv"
run --db "$T/bd" catalog "$T/badcat.csv" 2> "$T/badcat.err"
assert_status "a catalog with bad rows" 3 $?
assert_grep "bad catalog id" 'badcat.csv:2: "id" is not a UUID' "$T/badcat.err"
assert_grep "a code listed twice" "badcat.csv:4: the code is listed twice" "$T/badcat.err"

# --- usage and errors
run --help > "$T/help.out"
assert_status "--help" 0 $?
assert_grep "help lists import" "^  import " "$T/help.out"
run import --help > /dev/null
assert_status "import --help" 0 $?
run frobnicate 2>/dev/null
assert_status "unknown command" 2 $?
run import 2>/dev/null
assert_status "import without files" 2 $?
run import --default-tz nine "$P1" 2>/dev/null
assert_status "bad --default-tz" 2 $?
run export --character-id random 2>/dev/null
assert_status "bad --character-id" 2 $?
run --version > /dev/null
assert_status "--version" 0 $?
run --db "$T/none" export > /dev/null 2> "$T/none.err"
assert_status "export of a missing store" 1 $?
assert_eq "one-line error" 1 "$(wc -l < "$T/none.err" | tr -d ' ')"
test ! -e "$T/none"
assert_status "export created nothing" 0 $?
mkdir "$T/notastore" && echo keep > "$T/notastore/file.txt"
run --db "$T/notastore" import "$P1" 2> "$T/nas.err"
assert_status "not a store" 1 $?
assert_grep "not a store message" "is not a store" "$T/nas.err"
assert_eq "not a store untouched" "file.txt" "$(ls "$T/notastore")"
run --db "$T/a" import "$T/does-not-exist.jsonl" 2> "$T/missing.err"
assert_status "missing input" 1 $?
assert_grep "missing input named" "cannot open '$T/does-not-exist.jsonl'" "$T/missing.err"

# the summary table's columns line up whatever the names' lengths (#18)
long="$T/a-rather-long-directory-name-for-a-reward-log/with-a-long-file-name.jsonl"
mkdir -p "$(dirname "$long")"
cp "$P1" "$long"
cp "$P2" "$T/s.jsonl"
printf '\n' >> "$T/s.jsonl"
run --db "$T/align" import --quiet "$long" "$T/s.jsonl" 2> "$T/align.err"
# where the "lines" column ends, on the header, each input's row and the total
ends=$(grep -E '^(source|total|/)' "$T/align.err" | awk '{ match($0, /^[^ ]+ +[^ ]+/); print RLENGTH }' | sort -u)
assert_eq "the summary's columns line up (one column end)" 1 "$(echo "$ends" | wc -l | tr -d ' ')"
assert_eq "four rows in the table" 4 "$(grep -cE '^(source|total|/)' "$T/align.err")"

# a log that ends inside a line longer than the limit, while it is written:
# the first import rejects and counts that line; resumed imports, while
# the line goes on and after it ends, skip its rest instead of taking it
# for a new line (#18)
/usr/bin/python3 - "$T" "$D/logs/rewards-2025-12-part2.jsonl" <<'EOF'
import sys
t, src = sys.argv[1], sys.argv[2]
good = open(src).read().splitlines()
head = "\n".join(good[:3]) + "\n"
a = '{"user_id":"' + "x" * (5 << 20)
b = "y" * (1 << 20)
c = '"}\n' + "\n".join(good[3:]) + "\n"
open(t + "/ovl.jsonl", "w").write(head + a)
open(t + "/ovl.b", "w").write(b)
open(t + "/ovl.c", "w").write(c)
open(t + "/ovl-full.jsonl", "w").write(head + a + b + c)
EOF
run --db "$T/ovl" import --quiet --rejects "$T/ovl.rej" "$T/ovl.jsonl" 2> "$T/ovl1.err"
assert_status "an overlong last line, still being written, is rejected" 3 $?
cat "$T/ovl.b" >> "$T/ovl.jsonl"
run --db "$T/ovl" import --quiet --rejects "$T/ovl.rej" "$T/ovl.jsonl" 2> "$T/ovl2.err"
assert_status "grown, still inside that line: nothing new is rejected" 0 $?
assert_no_grep "no second message for it" "ovl.jsonl:[0-9]+:" "$T/ovl2.err"
cat "$T/ovl.c" >> "$T/ovl.jsonl"
run --db "$T/ovl" import --quiet --rejects "$T/ovl.rej" "$T/ovl.jsonl" 2> "$T/ovl3.err"
assert_status "grown past its end: the rest is read" 0 $?
assert_no_grep "still no second message" "ovl.jsonl:[0-9]+:" "$T/ovl3.err"
run --db "$T/ovlfull" import --quiet "$T/ovl-full.jsonl" 2>/dev/null
counts() { run --db "$1" stats --json | /usr/bin/python3 -c 'import json,sys; s=json.load(sys.stdin)["sources"][0]; print(s["bytes"], s["lines"], s["events"], s["rejected"])'; }
assert_eq "counted once: the finished log's bytes, lines, events and rejects" \
	"$(counts "$T/ovlfull")" "$(counts "$T/ovl")"
run --db "$T/ovl" export -o "$T/ovl.csv"
run --db "$T/ovlfull" export -o "$T/ovlfull.csv"
assert_same_file "and the same export" "$T/ovlfull.csv" "$T/ovl.csv"

# history --json: objects with numbers and strings, not one string (#18)
run --db "$T/align" history --json > "$T/hist.json" 2>/dev/null
assert_status "history --json" 0 $?
/usr/bin/python3 - "$T/hist.json" "$long" > "$T/hist.out" 2>&1 <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))
r = runs[-1]
assert r["command"] == "import" and r["status"] == "ok", r
assert r["finished"] >= r["started"] and r["started"].endswith("Z"), r
i = r["inputs"]
assert i[0]["name"] == sys.argv[2], i
assert i[0]["lines"] == 7 and i[0]["events"] == 7 and i[0]["rejected"] == 0 and i[0]["blank"] == 1, i
# the other log with a blank line added
assert i[1]["lines"] == 5 and i[1]["blank"] == 1 and i[1]["events"] == 4, i
print("ok")
EOF
assert_eq "history --json: the run's fields and its inputs' numbers" ok "$(cat "$T/hist.out")"

finish
