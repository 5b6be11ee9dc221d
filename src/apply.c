/* Applying a batch: its entries merged into the stored records in key
 * order (MDB_APPEND past the last stored key), then the sources' progress,
 * checked and written in the same transaction.  Sorted runs are applied by
 * fold.c, which writes its keys through the same rs_store_put_one. */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/batch.h>
#include <rewardstore/record.h>
#include <rewardstore/store.h>

#include "store-private.h"

static int reserve(rs_store *s, size_t n)
{
	if (n <= s->scratch_cap)
		return 0;
	uint8_t *p = realloc(s->scratch, n);
	if (p == NULL)
		return RS_ENOMEM;
	s->scratch = p;
	s->scratch_cap = n;
	return 0;
}


int rs_appender_begin(rs_appender *ap, MDB_cursor *cur)
{
	MDB_val k, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);

	memset(ap, 0, sizeof *ap);
	if (rc == MDB_NOTFOUND) {
		ap->past = 1; /* an empty store */
		return 0;
	}
	if (rc)
		return rc;
	if (k.mv_size > sizeof ap->last)
		return 0; /* never past: the usual way for every key */
	memcpy(ap->last, k.mv_data, k.mv_size);
	ap->last_len = k.mv_size;
	return 0;
}

/* Write one key: raw is its encoded record, or rec (raw NULL) its merge of
 * several.  One search per key: a put with MDB_NOOVERWRITE either inserts
 * it or returns the stored value with the cursor on it, which MDB_CURRENT
 * then replaces with the merge. */
int rs_store_put_one(rs_store *s, MDB_cursor *cur, rs_appender *ap, const uint8_t *key,
                   size_t key_len, const uint8_t *raw, size_t raw_len, const rs_record *rec,
                   rs_error *err)
{
	MDB_val k = { key_len, (void *)key }, v;
	rs_record stored, r, marked;
	int rc;

	if (!ap->past && ap->last_len && rs_key_cmp(key, key_len, ap->last, ap->last_len) > 0)
		ap->past = 1;

	if (raw && rs_record_raw_marked(raw, raw_len)) {
		/* a mark from elsewhere (another store): this store's own comes */
		if ((rc = rs_record_decode(&r, raw, raw_len))) {
			rs_error_set(err, rc, "a record to write is damaged: %s", rs_strerror(rc));
			return rc;
		}
		rec = &r;
		raw = NULL;
	}
	/* a new key: a new row, changed in this run.  An encoded one is
	 * copied once, into the page LMDB reserves for it, with the mark */
	unsigned reserved = 0;
	size_t want;
	if (raw == NULL) {
		marked = *rec;
		marked.mark = s->run;
		if ((rc = reserve(s, rs_record_encoded_max(&marked))))
			return rs_error_set(err, rc, "out of memory");
		want = rs_record_encode(&marked, s->scratch);
	} else {
		want = rs_record_marked_size(raw_len, s->run);
		reserved = MDB_RESERVE;
	}
	v.mv_size = want;
	v.mv_data = reserved ? NULL : s->scratch;
	rc = mdb_cursor_put(cur, &k, &v, (ap->past ? MDB_APPEND : MDB_NOOVERWRITE) | reserved);
	if (rc == MDB_KEYEXIST && ap->past) {
		/* not in order after all (LMDB checked): the usual way from here */
		ap->past = 0;
		ap->last_len = 0;
		v.mv_size = want;
		v.mv_data = reserved ? NULL : s->scratch;
		rc = mdb_cursor_put(cur, &k, &v, MDB_NOOVERWRITE | reserved);
	}
	if (rc == 0) {
		if (reserved)
			rs_record_add_mark(raw, raw_len, s->run, v.mv_data);
		return 0;
	}
	if (rc != MDB_KEYEXIST) {
		if (rc != MDB_MAP_FULL)
			rs_store_fail(err, s->path, rc, "cannot write a record");
		return rc;
	}
	/* v is the stored value now */
	if ((rc = rs_record_decode(&stored, v.mv_data, v.mv_size)) ||
	    (raw && (rc = rs_record_decode(&r, raw, raw_len)))) {
		rs_error_set(err, rc, "a stored record is damaged: %s", rs_strerror(rc));
		rs_error_locate(err, s->path, 0, 0);
		return rc;
	}
	rs_record before = stored;
	rs_record_merge(&stored, raw ? &r : rec);
	/* the mark moves only when the exported row changes (not for a count) */
	stored.mark = rs_record_same_row(&before, &stored) ? before.mark : s->run;
	/* stored may point into the page; encode before the put */
	if ((rc = reserve(s, rs_record_encoded_max(&stored))))
		return rs_error_set(err, rc, "out of memory");
	v.mv_size = rs_record_encode(&stored, s->scratch);
	v.mv_data = s->scratch;
	if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)) && rc != MDB_MAP_FULL)
		rs_store_fail(err, s->path, rc, "cannot write a record");
	return rc;
}

/* Merge every entry into its stored record, in key order, so that the
 * B-tree is walked once from left to right (the values were encoded by
 * rs_batch_pack already). */
static int apply_records(rs_store *s, MDB_txn *txn, rs_batch *b, rs_error *err)
{
	MDB_cursor *cur;
	const uint8_t *key, *val;
	size_t key_len, val_len, pos = 0;
	int rc;

	if ((rc = rs_batch_pack(b)))
		return rs_error_set(err, rc, "out of memory");
	if ((rc = mdb_cursor_open(txn, s->records, &cur)))
		return rs_store_fail(err, s->path, rc, "cannot open a cursor");
	rs_appender ap;
	if ((rc = rs_appender_begin(&ap, cur)))
		rs_store_fail(err, s->path, rc, "cannot read the last record");
	while (rc == 0 && rs_batch_next_packed(b, &pos, &key, &key_len, &val, &val_len) == 1)
		rc = rs_store_put_one(s, cur, &ap, key, key_len, val, val_len, NULL, err);
	mdb_cursor_close(cur);
	return rc;
}


int rs_store_apply_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const rs_apply_job *j = arg;
	const rs_source *src = j->src;
	int rc = j->b ? apply_records(s, txn, j->b, err) : 0;

	for (size_t i = 0; rc == 0 && i < j->nsrc; i++) {
		/* compare and swap: the progress must be what this import last
		 * saw, or another import is applying the same input */
		if (src[i].expect_bytes != RS_SOURCE_ANY) {
			MDB_val k = { sizeof src[i].fingerprint, (void *)src[i].fingerprint }, v;
			rs_source now;
			uint64_t stored = 0;
			int g = mdb_get(txn, s->sources, &k, &v);
			if (g == 0 && rs_store_decode_source(&now, &k, &v) == 0)
				stored = now.bytes;
			else if (g != MDB_NOTFOUND && g != 0)
				return rs_store_fail(err, s->path, g, "cannot read a source's progress");
			if (stored != src[i].expect_bytes) {
				rs_error_set(err, RS_ECONFLICT,
				             "another import is applying '%s' at the same time (its "
				             "progress moved from %llu to %llu bytes); nothing of this "
				             "batch was applied: run again to resume",
				             src[i].name, (unsigned long long)src[i].expect_bytes,
				             (unsigned long long)stored);
				rs_error_locate(err, src[i].name, 0, 0);
				return RS_ECONFLICT;
			}
		}
		if ((rc = rs_store_put_source(txn, s->sources, &src[i])) && rc != MDB_MAP_FULL)
			rs_store_fail(err, s->path, rc, "cannot write a source's progress");
	}
	if (rc == 0 && j->extra && (rc = j->extra(s, txn, j->ctx)) && rc != MDB_MAP_FULL)
		rs_store_fail(err, s->path, rc, "cannot write the merge's progress");
	return rc;
}

int rs_store_apply_with(rs_store *s, rs_batch *b, const rs_source *src,
                      size_t nsrc, rs_extra_fn extra, void *ctx, rs_error *err)
{
	rs_apply_job j = { b, src, nsrc, extra, ctx };
	return rs_store_write(s, rs_store_apply_body, &j, err);
}

int rs_store_apply(rs_store *s, rs_batch *b, const rs_source *src,
                   size_t nsrc, rs_error *err)
{
	return rs_store_apply_with(s, b, src, nsrc, NULL, NULL, err);
}
