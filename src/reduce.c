/* Reduce: a partition file (part.c) folded into a store in one
 * transaction -- its records merged into the stored ones, its sources
 * recorded, and a mark so that folding the same file again changes
 * nothing -- and the store's partition stamp, which keeps one store to one
 * partition of one job. */
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/part.h>
#include <rewardstore/record.h>
#include <rewardstore/store.h>

#include "sources-fold.h"
#include "store-private.h"

/* meta: "partition" -> u32 n, u32 k.  merged: 'P' + the file's id -> u64
 * records (store ids, the other keys of "merged", are 16 bytes long) */
#define META_PARTITION "partition"

typedef struct reduce_job {
	const rs_part *p;
	rs_reduce_counts *counts;
} reduce_job;

/* The store's sources as the set that rs_sources_fold folds into. */
typedef struct store_set {
	rs_store *s;
	MDB_txn *txn;
} store_set;

static int set_get(void *ctx, const uint8_t fp[16], rs_source *out)
{
	store_set *ss = ctx;
	MDB_val k = { 16, (void *)fp }, v;
	int rc = mdb_get(ss->txn, ss->s->sources, &k, &v);
	if (rc == MDB_NOTFOUND)
		return RS_SOURCE_ABSENT;
	if (rc == 0 && rs_store_decode_source(out, &k, &v))
		rc = RS_ECORRUPT;
	return rc;
}

static int set_put(void *ctx, const rs_source *src)
{
	store_set *ss = ctx;
	return rs_store_put_source(ss->txn, ss->s->sources, src);
}

static int set_del(void *ctx, const uint8_t fp[16])
{
	store_set *ss = ctx;
	MDB_val k = { 16, (void *)fp };
	return mdb_del(ss->txn, ss->s->sources, &k, NULL);
}

/* The stamp: u64 k << 32 | n. */
static int read_stamp(rs_store *s, const MDB_val *v, uint32_t *n, uint32_t *k, rs_error *err)
{
	if (v->mv_size != 8)
		return rs_error_set(err, RS_ECORRUPT, "store '%s' has a damaged partition stamp",
		                    s->path);
	*n = (uint32_t)rs_get_u64(v->mv_data);
	*k = (uint32_t)(rs_get_u64(v->mv_data) >> 32);
	return 0;
}

static int reduce_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	reduce_job *j = arg;
	const rs_part *p = j->p;
	uint8_t mkey[17] = { 'P' }, stamp[8];
	MDB_val mk = { sizeof mkey, mkey }, mv;
	MDB_val pk = { sizeof META_PARTITION - 1, (void *)META_PARTITION }, pv;
	MDB_cursor *cur;
	int rc;

	memset(j->counts, 0, sizeof *j->counts);
	/* one (N, K) per store: the first file stamps it */
	rc = mdb_get(txn, s->meta, &pk, &pv);
	if (rc == 0) {
		uint32_t n, k;
		if ((rc = read_stamp(s, &pv, &n, &k, err)))
			return rc;
		if (n != rs_part_n(p) || k != rs_part_k(p)) {
			rs_error_set(err, RS_EUSAGE,
			             "'%s' is partition %u of %u, but store '%s' holds partition %u of %u",
			             rs_part_name(p), rs_part_k(p), rs_part_n(p), s->path, k, n);
			rs_error_locate(err, rs_part_name(p), 0, 0);
			return RS_EUSAGE;
		}
	} else if (rc == MDB_NOTFOUND) {
		rs_put_u64(stamp, (uint64_t)rs_part_k(p) << 32 | rs_part_n(p));
		pv.mv_size = sizeof stamp;
		pv.mv_data = stamp;
		if ((rc = mdb_put(txn, s->meta, &pk, &pv, 0)))
			goto failed;
	} else {
		goto failed;
	}
	/* the same file again: nothing to do */
	memcpy(mkey + 1, rs_part_id(p), 16);
	if ((rc = mdb_get(txn, s->merged, &mk, &mv)) == 0) {
		j->counts->already_applied = 1;
		return 0;
	}
	if (rc != MDB_NOTFOUND)
		goto failed;

	if ((rc = mdb_cursor_open(txn, s->records, &cur)))
		goto failed;
	rs_appender ap;
	if ((rc = rs_appender_begin(&ap, cur))) {
		mdb_cursor_close(cur);
		goto failed;
	}
	const uint8_t *key, *val;
	size_t key_len, val_len, pos = 0;
	while (rs_part_next(p, &pos, &key, &key_len, &val, &val_len) == 1)
		if ((rc = rs_store_put_one(s, cur, &ap, key, key_len, val, val_len, NULL, err)))
			break; /* err says why, or the map is full */
	mdb_cursor_close(cur);
	if (rc)
		return rc;
	/* counted when the file was checked */
	j->counts->records = rs_part_records(p);
	j->counts->observations = rs_part_observations(p);

	store_set ss = { s, txn };
	rs_source_set set = { set_get, set_put, set_del, &ss };
	for (size_t i = 0; i < rs_part_nsources(p); i++)
		if ((rc = rs_sources_fold(&set, rs_part_source_at(p, i))))
			goto failed;
	uint8_t n8[8];
	rs_put_u64(n8, j->counts->records);
	mv.mv_size = sizeof n8;
	mv.mv_data = n8;
	if ((rc = mdb_put(txn, s->merged, &mk, &mv, 0)))
		goto failed;
	return 0;
failed:
	if (rc != MDB_MAP_FULL)
		rs_store_fail(err, s->path, rc, "cannot fold in a partition file");
	return rc;
}

int rs_store_reduce(rs_store *s, const rs_part *p, rs_reduce_counts *counts, rs_error *err)
{
	reduce_job j = { p, counts };
	return rs_store_write(s, reduce_body, &j, err);
}

int rs_store_partition(rs_store *s, uint32_t *n, uint32_t *k, rs_error *err)
{
	MDB_txn *txn;
	MDB_val pk = { sizeof META_PARTITION - 1, (void *)META_PARTITION }, pv;
	int rc;

	*n = *k = 0;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
	rc = mdb_get(txn, s->meta, &pk, &pv);
	if (rc == 0) {
		rc = read_stamp(s, &pv, n, k, err);
	} else if (rc == MDB_NOTFOUND) {
		rc = 0;
	} else {
		rs_store_fail(err, s->path, rc, "cannot read the partition stamp");
	}
	mdb_txn_abort(txn);
	return rc;
}
