// make bench's Polars anchor, a floor rather than the merge: read the JSON
// Lines files, group by (user_id, character_code) keeping the first and
// smallest and largest acquired_at of each column group, write CSV.  Less
// work than rewardstore does (no validation, no merge rules, no ids).
//   node bench/polars.mjs OUT.csv FILE...
import pl from 'nodejs-polars';

const [out, ...files] = process.argv.slice(2);
// scanJson reads JSON Lines (this version's readJSON format 'lines' has no
// native reader)
const frames = files.map((f) => pl.scanJson(f));
const g = pl.concat(frames, { how: 'diagonal' })
  .groupBy(['user_id', 'character_code'])
  .agg(
    pl.col('acquired_at').min().alias('acquired_at'),
    pl.col('acquired_at').max().alias('updated_at'),
    pl.col('character_id').last(),
    pl.col('character_name').last(),
    pl.col('character_type').last(),
    pl.col('character_dialog').last(),
    pl.col('source').first(),
    pl.col('status').last(),
  )
  .sort(['user_id', 'character_code'])
  .collectSync();
g.writeCSV(out);
