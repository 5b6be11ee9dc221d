// make bench's DuckDB anchor: the whole merge of doc/CONTRACT.md section 3
// in SQL, over the same JSON Lines files, written as the same CSV as
// 'rewardstore export' (tools/bench compares the two byte for byte).
//   node bench/duckdb.mjs OUT.csv FILE...
import { DuckDBInstance } from '@duckdb/node-api';

const [out, ...files] = process.argv.slice(2);
const list = files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ');
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await db.connect();
// missing = null, absent or "" (section 2); t = acquired_at (no dump rows)
const sql = `
COPY (
WITH ev AS (
  SELECT lower(user_id) AS user_id, character_code AS code,
         nullif(lower(character_id), '') AS cid,
         nullif(character_name, '') AS name, nullif(character_type, '') AS type,
         nullif(character_dialog, '') AS dialog, nullif(source, '') AS source,
         nullif(status, '') AS status,
         epoch_us(CAST(acquired_at AS TIMESTAMPTZ)) AS t
  FROM read_json([${list}], format = 'newline_delimited', columns = {
    user_id: 'VARCHAR', character_code: 'VARCHAR', character_id: 'VARCHAR',
    character_name: 'VARCHAR', character_type: 'VARCHAR', character_dialog: 'VARCHAR',
    source: 'VARCHAR', status: 'VARCHAR', acquired_at: 'VARCHAR'})
), k AS (
  SELECT user_id, code, min(t) AS acq, max(t) AS upd,
         max_by(cid, (t, cid)) FILTER (WHERE cid IS NOT NULL) AS cid,
         max_by(name, (t, name)) FILTER (WHERE name IS NOT NULL) AS name,
         max_by(type, (t, type)) FILTER (WHERE type IS NOT NULL) AS type,
         max_by(dialog, (t, dialog)) FILTER (WHERE dialog IS NOT NULL) AS dialog,
         coalesce(max_by(status, (t, status)) FILTER (WHERE status IS NOT NULL), 'owned') AS status,
         min_by(source, (t, source)) FILTER (WHERE source IS NOT NULL) AS source
  FROM ev GROUP BY user_id, code
), h AS (
  -- version 5 id: SHA-1 of the namespace, the user id's bytes and the code
  SELECT *, sha1(unhex('6d1d3f2e8a4b4c1e9b7a52f0c3e4a9d1' || replace(user_id, '-', '')) || encode(code)) AS d
  FROM k
)
SELECT substr(d, 1, 8) || '-' || substr(d, 9, 4) || '-5' || substr(d, 14, 3) || '-' ||
         lower(printf('%x', (('0x' || substr(d, 17, 1))::INTEGER & 3) | 8)) || substr(d, 18, 3) || '-' ||
         substr(d, 21, 12) AS id,
       user_id, cid AS character_id, code AS character_code, name AS character_name,
       type AS character_type, dialog AS character_dialog, source, status,
       regexp_replace(regexp_replace(strftime(make_timestamp(acq), '%Y-%m-%d %H:%M:%S.%f'), '0+$', ''), '\\.$', '') || '+00' AS acquired_at,
       regexp_replace(regexp_replace(strftime(make_timestamp(upd), '%Y-%m-%d %H:%M:%S.%f'), '0+$', ''), '\\.$', '') || '+00' AS updated_at
FROM h
ORDER BY user_id, code
) TO '${out.replaceAll("'", "''")}' (FORMAT csv, HEADER);`;
await con.run(sql);
