/* Merging stores: the records and sources of another store folded into
 * this one with the same merge, batch by batch, each batch committed with
 * the merge's progress. */
#include <string.h>

#include <lmdb.h>

#include <rewardstore/batch.h>
#include <rewardstore/record.h>
#include <rewardstore/store.h>

#include "store-private.h"

/* "merged": the id of a store folded in -> its last transaction id then, a
 * done flag, and the last key applied.  Each batch of the merge commits
 * with that progress, so a crash resumes after the last key applied, and
 * a store merged again unchanged applies nothing: the counts stay exact. */

typedef struct merge_mark {
	uint8_t src_id[16];
	uint64_t txnid;
	uint8_t done;
	uint8_t key[RS_KEY_MAX];
	size_t key_len;
} merge_mark;

static int put_mark(rs_store *s, MDB_txn *txn, void *ctx)
{
	const merge_mark *m = ctx;
	uint8_t buf[9 + RS_KEY_MAX];
	rs_put_u64(buf, m->txnid);
	buf[8] = m->done;
	memcpy(buf + 9, m->key, m->key_len);
	MDB_val k = { 16, (void *)m->src_id }, v = { 9 + m->key_len, buf };
	return mdb_put(txn, s->merged, &k, &v, 0);
}

typedef struct merge_final {
	merge_mark *mark;
	rs_store *src;
	MDB_txn *src_txn;
} merge_final;

/* The last transaction: the mark, and the source store's sources. */
static int put_final(rs_store *s, MDB_txn *txn, void *ctx)
{
	merge_final *f = ctx;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = put_mark(s, txn, f->mark)))
		return rc;
	if ((rc = mdb_cursor_open(f->src_txn, f->src->sources, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rs_source in, have;
		MDB_val hv;
		if (rs_store_decode_source(&in, &k, &v))
			continue;
		/* the same input in both stores: keep the furthest progress */
		if (mdb_get(txn, s->sources, &k, &hv) == 0 && rs_store_decode_source(&have, &k, &hv) == 0 &&
		    have.bytes >= in.bytes)
			continue;
		if ((rc = rs_store_put_source(txn, s->sources, &in)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int rs_store_merge(rs_store *s, const char *src_path, int force, size_t batch_keys,
                   rs_merge_counts *counts, rs_error *err)
{
	rs_store *src = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_envinfo info;
	MDB_val k, v;
	rs_batch *b = NULL;
	merge_mark mark;
	int rc;

	memset(counts, 0, sizeof *counts);
	if ((rc = rs_store_open(&src, src_path, RS_STORE_RDONLY, err)))
		return rc;
	if (memcmp(src->id, s->id, 16) == 0) {
		rc = rs_error_set(err, RS_EUSAGE, "'%s' is this store: nothing to merge", src_path);
		goto close_src;
	}
	/* one snapshot of the source for the whole merge */
	if ((rc = mdb_txn_begin(src->env, NULL, MDB_RDONLY, &txn))) {
		rs_store_fail(err, src_path, rc, "cannot begin a read transaction");
		goto close_src;
	}
	mdb_env_info(src->env, &info);
	memset(&mark, 0, sizeof mark);
	memcpy(mark.src_id, src->id, 16);
	mark.txnid = info.me_last_txnid;

	/* what an earlier merge of this store did */
	MDB_txn *rt;
	int resume = 0;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rt))) {
		rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
		goto abort;
	}
	MDB_val mk = { 16, mark.src_id }, mv;
	if (mdb_get(rt, s->merged, &mk, &mv) == 0 && mv.mv_size >= 9) {
		uint64_t then = rs_get_u64(mv.mv_data);
		int done = ((const uint8_t *)mv.mv_data)[8];
		if (then == mark.txnid && done) {
			counts->already_merged = 1;
			mdb_txn_abort(rt);
			rc = 0;
			goto abort;
		}
		if (then == mark.txnid && mv.mv_size - 9 <= RS_KEY_MAX) {
			mark.key_len = mv.mv_size - 9;
			memcpy(mark.key, (const uint8_t *)mv.mv_data + 9, mark.key_len);
			resume = mark.key_len > 0;
		} else if (!force) {
			mdb_txn_abort(rt);
			rc = rs_error_set(err, RS_EUSAGE,
			                  "'%s' was merged before and has changed since; merging it again "
			                  "would count its earlier observations twice (--force does)",
			                  src_path);
			goto abort;
		}
	}
	mdb_txn_abort(rt);

	if ((rc = rs_batch_new(&b, batch_keys ? batch_keys : 16384, 4u << 20))) {
		rs_error_set(err, rc, "out of memory");
		goto abort;
	}
	if ((rc = mdb_cursor_open(txn, src->records, &cur))) {
		rs_store_fail(err, src_path, rc, "cannot open a cursor");
		goto free_batch;
	}
	if (resume) {
		k.mv_size = mark.key_len;
		k.mv_data = mark.key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == mark.key_len && memcmp(k.mv_data, mark.key, k.mv_size) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		counts->resumed = 1;
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rs_record r;
		if (k.mv_size <= RS_UUID_LEN || k.mv_size > RS_KEY_MAX ||
		    rs_record_decode(&r, v.mv_data, v.mv_size)) {
			rc = rs_error_set(err, RS_ECORRUPT, "a record of '%s' is damaged", src_path);
			goto close_cursor;
		}
		r.mark = 0; /* the other store's runs are not this one's */
		if ((rc = rs_batch_add_record(b, k.mv_data, k.mv_size, &r))) {
			rs_error_set(err, rc, "out of memory");
			goto close_cursor;
		}
		counts->records++;
		counts->observations += r.n_obs;
		if (rs_batch_full(b)) {
			/* keys come in order: the batch ends at this key */
			memcpy(mark.key, k.mv_data, k.mv_size);
			mark.key_len = k.mv_size;
			if ((rc = rs_store_apply_with(s, b, NULL, 0, put_mark, &mark, err)))
				goto close_cursor;
			rs_batch_clear(b);
		}
	}
	if (rc != MDB_NOTFOUND) {
		rs_store_fail(err, src_path, rc, "cannot read the records");
		goto close_cursor;
	}
	mark.done = 1;
	mark.key_len = 0;
	merge_final fin = { &mark, src, txn };
	rc = rs_store_apply_with(s, b, NULL, 0, put_final, &fin, err);
close_cursor:
	mdb_cursor_close(cur);
free_batch:
	rs_batch_free(b);
abort:
	mdb_txn_abort(txn);
close_src:
	rs_store_close(src);
	return rc;
}
