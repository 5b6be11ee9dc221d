#!/bin/sh
# PostgreSQL round trips (issue #3): a private cluster in a temporary
# folder, on a Unix socket only, started here and stopped on exit, also on
# failure.  Skipped (exit 77) only when no PostgreSQL server is installed.
. "${top_srcdir:-.}/tests/lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
	echo "pg: no PostgreSQL server (apt-get install postgresql): skipped"
	exit 77
fi
D="$top_srcdir/data"
PG="$T/pg"
# initdb refuses root: the cluster runs as the postgres user when we are root
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$PG"
chmod 755 "$T"
[ "$(id -u)" -eq 0 ] && chown postgres "$PG"
stop_cluster() {
	as_pg "$PGBIN/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null 2>&1
	rm -rf "$T"
}
trap stop_cluster EXIT
as_pg "$PGBIN/initdb" -D "$PG/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null ||
	{ echo "pg: initdb failed"; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w \
	-o "-k $PG -c listen_addresses= -c fsync=off -c TimeZone=UTC" start >/dev/null ||
	{ cat "$PG/log"; echo "pg: the cluster did not start"; exit 1; }
psql() { "$PGBIN/psql" -h "$PG" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
q() { psql -At -c "$1"; }

fresh_table() {
	psql -c "DROP SCHEMA IF EXISTS user_profile CASCADE" >/dev/null 2>&1
	psql -f "$D/schema.sql" >/dev/null
}
# the table's rows in key order, as CSV, for comparing loads
table_csv() {
	psql -c "\\copy (SELECT * FROM user_profile.user_characters ORDER BY user_id, character_code COLLATE \"C\") TO '$1' (FORMAT csv, HEADER)"
}
obs_count() { rs --db "$1" stats --json | sed -n 's/.*"records": \([0-9]*\).*/\1/p'; }

# --- a store from the sample logs, the seed's dump and the catalog
rs --db "$T/s" import "$D"/logs/*.jsonl 2>/dev/null
rs --db "$T/s" import-dump "$D/dump-user_characters.csv" 2>/dev/null
rs --db "$T/s" catalog "$D/catalog.csv" 2>/dev/null
rs --db "$T/s" export -o "$T/s.csv"
assert_status "export with catalog" 0 $?
rs --db "$T/s" export --format text -o "$T/s.txt"
rs --db "$T/s" export --format sql -o "$T/s.sql"

# CSV loads into the table with its unique constraint; one row per record
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/s.csv' (FORMAT csv, HEADER)"
assert_status "COPY FROM csv" 0 $?
assert_eq "rows loaded = stats records" "$(obs_count "$T/s")" "$(q 'SELECT count(*) FROM user_profile.user_characters')"
table_csv "$T/from-csv.csv"

# the text export loads the same rows
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/s.txt'"
assert_status "COPY FROM text" 0 $?
table_csv "$T/from-text.csv"
assert_same_file "text export loads the same rows" "$T/from-csv.csv" "$T/from-text.csv"

# the sql export merges into a table that already holds rows
fresh_table
psql -c "INSERT INTO user_profile.user_characters (user_id, character_id, character_code, character_name, character_type, acquired_at, updated_at)
         VALUES ('8b8ec006-2d95-45aa-bdef-e08201f1bb82', 'a68c313e-3fd3-41b6-ae90-72640c6f0aba', 'char-paepy', 'old', 'kept type', '2025-01-01 00:00:00+00', '2025-01-01 00:00:00+00'),
                ('99999999-2d95-45aa-bdef-e08201f1bb82', 'a68c313e-3fd3-41b6-ae90-72640c6f0aba', 'char-other', 'other', NULL, '2025-01-01 00:00:00+00', '2025-01-01 00:00:00+00')" >/dev/null
psql -f "$T/s.sql" >/dev/null
assert_status "psql runs the sql export" 0 $?
assert_eq "one row per key after the merge" "$(q 'SELECT count(*) FROM user_profile.user_characters')" "$(q 'SELECT count(DISTINCT (user_id, character_code)) FROM user_profile.user_characters')"
assert_eq "merged rows: the store's and the other one" "$(($(obs_count "$T/s") + 1))" "$(q 'SELECT count(*) FROM user_profile.user_characters')"
assert_eq "the merge keeps the older acquired_at" "2025-01-01 00:00:00+00" "$(q "SELECT acquired_at FROM user_profile.user_characters WHERE character_code = 'char-paepy' AND user_id = '8b8ec006-2d95-45aa-bdef-e08201f1bb82'")"
assert_eq "the merge heals the id from the catalog" "c7df88f5-66af-4d75-bcd4-1825a5692738" "$(q "SELECT character_id FROM user_profile.user_characters WHERE character_code = 'char-paepy' AND user_id = '8b8ec006-2d95-45aa-bdef-e08201f1bb82'")"

# --- hostile values through every format: quotes, backslashes, a "\." line,
# newlines, CR, tabs, $$ and what looks like SQL
U=5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f
C=0e1d2c3b-4a59-4687-b7a6-9584c3b2a190
cat > "$T/hostile.jsonl" <<JSON
{"user_id":"$U","character_code":"h1","character_id":"$C","character_name":"it's \"quoted\", ok","character_type":"back\\\\slash \\\\N","character_dialog":"line one\n\\\\.\nline three\r\nend","acquired_at":"2025-01-01T00:00:00Z"}
{"user_id":"$U","character_code":"h2","character_id":"$C","character_name":"\$\$; DROP TABLE x; --","character_type":"tab\there","character_dialog":"\\\\.","acquired_at":"2025-01-01T00:00:00Z"}
{"user_id":"$U","character_code":"h3,\"x\"","character_id":"$C","character_name":"\\\\","character_dialog":"\n","source":"'); DELETE FROM user_profile.user_characters; --","acquired_at":"2025-01-01T00:00:00Z"}
JSON
rs --db "$T/h" import "$T/hostile.jsonl" 2>/dev/null
assert_status "hostile values import" 0 $?
rs --db "$T/h" export -o "$T/h.csv" 2> "$T/h.err"
assert_grep "export warns about lines psql stops at" "1 value\\(s\\) hold a line that is only" "$T/h.err"
rs --db "$T/h" export --format text -o "$T/h.txt"
rs --db "$T/h" export --format sql -o "$T/h.sql"
fresh_table
# server-side COPY: psql's \copy would stop at the "\." lines (see above)
psql -c "COPY user_profile.user_characters FROM '$T/h.csv' (FORMAT csv, HEADER)"
assert_status "hostile csv loads" 0 $?
table_csv "$T/h-csv.csv"
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/h.txt'"
assert_status "hostile text loads" 0 $?
table_csv "$T/h-text.csv"
assert_same_file "hostile text = csv" "$T/h-csv.csv" "$T/h-text.csv"
fresh_table
psql -f "$T/h.sql" >/dev/null
assert_status "hostile sql runs" 0 $?
table_csv "$T/h-sql.csv"
assert_same_file "hostile sql = csv" "$T/h-csv.csv" "$T/h-sql.csv"
assert_eq "the dialog with a \\. line is whole" "$(printf 'line one\n\\.\nline three\r\nend')" "$(q "SELECT character_dialog FROM user_profile.user_characters WHERE character_code = 'h1'")"
assert_eq "the name with \$\$ is whole" '$$; DROP TABLE x; --' "$(q "SELECT character_name FROM user_profile.user_characters WHERE character_code = 'h2'")"
# and the round trip back: what PostgreSQL holds exports the same bytes
rm -rf "$T/h2"
rs --db "$T/h2" import-dump "$T/h-csv.csv" 2>/dev/null
rs --db "$T/h2" export -o "$T/h2.csv"
assert_same_file "hostile values round trip" "$T/h.csv" "$T/h2.csv"

# --- the seed's own migration on a dump with planted duplicates keeps what
# rewardstore keeps: the oldest row per (user_id, character_code)
"$top_builddir/tools/rewardstore-gen" --events 4000 --files 1 --seed 7 "$T/gen" 2>/dev/null
rs --db "$T/g" import "$T/gen-0.jsonl" 2>/dev/null
rs --db "$T/g" export --character-id oldest -o "$T/g.csv"
psql -c "DROP SCHEMA IF EXISTS user_profile CASCADE" >/dev/null 2>&1
# the old table: unique on the id, not the code
sed 's/CONSTRAINT uq_user_character_code UNIQUE (user_id, character_code)/CONSTRAINT uq_old UNIQUE (user_id, character_id)/' "$D/schema.sql" | psql >/dev/null
psql -c "\\copy user_profile.user_characters FROM '$T/g.csv' (FORMAT csv, HEADER)"
# plant duplicates: a copy of a third of the rows with a stale id, one to
# three hours later, as the stale cache did
psql -c "INSERT INTO user_profile.user_characters (user_id, character_id, character_code, character_name, character_type, character_dialog, source, status, acquired_at, updated_at)
         SELECT user_id, gen_random_uuid(), character_code, character_name, NULL, character_dialog, source, status,
                acquired_at + (1 + abs(hashtext(id::text)) % 3) * interval '1 hour', updated_at + interval '4 hours'
         FROM user_profile.user_characters WHERE abs(hashtext(id::text)) % 3 = 0" >/dev/null
planted=$(q "SELECT count(*) - count(DISTINCT (user_id, character_code)) FROM user_profile.user_characters")
assert_eq "duplicates were planted" 1 "$([ "$planted" -gt 100 ] && echo 1 || echo 0)"
psql -c "\\copy (SELECT * FROM user_profile.user_characters ORDER BY id) TO '$T/dup-dump.csv' (FORMAT csv, HEADER)"
rs --db "$T/dd" import-dump "$T/dup-dump.csv" 2>/dev/null
assert_status "import the dump with duplicates" 0 $?
rs --db "$T/dd" verify --json > "$T/dd-verify.json"
assert_grep "verify counts the planted duplicates" "\"duplicate_dump_row_count\": $planted," "$T/dd-verify.json"
rs --db "$T/dd" export --character-id oldest -o "$T/dd.csv"
# the seed's migration, inside PostgreSQL
psql -c "DELETE FROM user_profile.user_characters WHERE id IN (
           SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id, character_code ORDER BY acquired_at) AS rn
                           FROM user_profile.user_characters) d WHERE rn > 1)" >/dev/null
psql -c "\\copy (SELECT id, user_id, character_id, character_code, acquired_at FROM user_profile.user_characters ORDER BY user_id, character_code COLLATE \"C\") TO '$T/migrated.csv' (FORMAT csv)"
psql -c "CREATE TABLE ours (LIKE user_profile.user_characters)" >/dev/null
psql -c "\\copy ours FROM '$T/dd.csv' (FORMAT csv, HEADER)"
psql -c "\\copy (SELECT id, user_id, character_id, character_code, acquired_at FROM ours ORDER BY user_id, character_code COLLATE \"C\") TO '$T/ours.csv' (FORMAT csv)"
psql -c "DROP TABLE ours" >/dev/null
assert_same_file "the seed's migration keeps our id, key, acquired_at and oldest character_id" "$T/migrated.csv" "$T/ours.csv"

# --- fixpoint: export, load, COPY TO, import-dump, export again
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/s.csv' (FORMAT csv, HEADER)"
psql -c "\\copy user_profile.user_characters TO '$T/back.csv' (FORMAT csv, HEADER)"
rs --db "$T/fix" import-dump "$T/back.csv" 2>/dev/null
rs --db "$T/fix" export -o "$T/fix.csv"
assert_same_file "fixpoint: the second export is byte-identical" "$T/s.csv" "$T/fix.csv"
psql -c "\\copy user_profile.user_characters TO '$T/back.txt'"
rs --db "$T/fixt" import-dump --format text "$T/back.txt" 2>/dev/null
rs --db "$T/fixt" export -o "$T/fixt.csv"
assert_same_file "fixpoint through a text dump" "$T/s.csv" "$T/fixt.csv"

# --- the same fixpoint on logs whose values vary more: escapes, a
# surrogate pair, five offsets, fractions of six, three or no digits
"$top_builddir/tools/rewardstore-gen" --varied --events 4000 --files 1 --seed 9 "$T/var" 2>/dev/null
rs --db "$T/var" import "$T/var-0.jsonl" 2>/dev/null
assert_status "varied logs import without a reject" 0 $?
rs --db "$T/var" export -o "$T/var.csv"
assert_grep "varied logs: the escaped e-acute decoded" "café" "$T/var.csv"
assert_grep "varied logs: the surrogate pair decoded" "$(printf '\360\237\214\277')" "$T/var.csv"
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/var.csv' (FORMAT csv, HEADER)"
assert_status "varied logs load" 0 $?
psql -c "\\copy user_profile.user_characters TO '$T/var-back.csv' (FORMAT csv, HEADER)"
rs --db "$T/var2" import-dump "$T/var-back.csv" 2>/dev/null
rs --db "$T/var2" export -o "$T/var2.csv"
assert_same_file "fixpoint on varied logs" "$T/var.csv" "$T/var2.csv"

# --- a delta as a psql script brings the table from its state at run R
# to now (#18): the full export at R loaded, the delta applied, equals the
# full export now loaded; through new keys, changed rows and a catalog
# reload that renames a code
"$top_builddir/tools/rewardstore-gen" --events 6000 --files 2 --seed 41 --catalog "$T/gcat.csv" "$T/g" 2>/dev/null
awk -F, 'NR == 2 { $3 = "renamed" } { print }' OFS=, "$T/gcat.csv" > "$T/gcat2.csv"
rs --db "$T/dl" import -q "$T/g-0.jsonl" 2>/dev/null                   # run 1
rs --db "$T/dl" catalog "$T/gcat.csv" 2>/dev/null                      # run 2
rs --db "$T/dl" export -o "$T/dl-2.csv"
rs --db "$T/dl" import -q "$T/g-1.jsonl" "$D"/logs/*.jsonl 2>/dev/null  # run 3
rs --db "$T/dl" catalog "$T/gcat2.csv" 2>/dev/null                     # run 4
rs --db "$T/dl" export --format sql --changed-since 2 -o "$T/dl.sql"
assert_status "export --format sql --changed-since" 0 $?
rs --db "$T/dl" export -o "$T/dl-now.csv"
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/dl-2.csv' (FORMAT csv, HEADER)"
psql -f "$T/dl.sql" >/dev/null
assert_status "psql applies the delta" 0 $?
table_csv "$T/dl-applied.csv"
fresh_table
psql -c "\\copy user_profile.user_characters FROM '$T/dl-now.csv' (FORMAT csv, HEADER)"
table_csv "$T/dl-full.csv"
assert_same_file "the table at run 2 plus the delta = the table now" "$T/dl-full.csv" "$T/dl-applied.csv"
n=$(grep -c '' "$T/dl.sql")
[ "$n" -gt 100 ] && [ "$n" -lt "$(grep -c '' "$T/dl-now.csv")" ]
assert_status "the delta is neither empty nor everything ($n lines)" 0 $?

finish
