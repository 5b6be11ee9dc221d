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

#include "hash.h"
#include "store-private.h"

/* meta: "partition" -> u32 n, u32 k.  merged: 'P' + the file's id -> u64
 * records (store ids, the other keys of "merged", are 16 bytes long) */
#define META_PARTITION "partition"

typedef struct reduce_job {
	const rs_part *p;
	rs_reduce_counts *counts;
} reduce_job;

/* A byte range of an input (a map task's split) is recorded under an
 * identity of its own -- the input's fingerprint mixed with where the
 * range's first line starts -- until the ranges before it are in: then
 * the input's own progress (under its fingerprint, as an import records
 * it) grows over it.  Ranges are contiguous (a range's lines end where the
 * next range's first line starts), so whatever order the files come in,
 * once all of an input's ranges are folded its progress is the input's
 * whole, as one import of it would have left. */
static void range_id(const uint8_t fp[16], uint64_t from, uint8_t out[16])
{
	uint8_t buf[24];
	memcpy(buf, fp, 16);
	rs_put_u64(buf + 16, from);
	uint64_t a = rs_hash64(buf, sizeof buf, 0x72616e67ULL), b = rs_hash64(buf, sizeof buf, 0x65303031ULL);
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
}

/* 0, MDB_NOTFOUND, or an error */
static int get_source(rs_store *s, MDB_txn *txn, const uint8_t fp[16], rs_source *out)
{
	MDB_val k = { 16, (void *)fp }, v;
	int rc = mdb_get(txn, s->sources, &k, &v);
	if (rc == 0 && rs_store_decode_source(out, &k, &v))
		rc = RS_ECORRUPT;
	return rc;
}

static void extend(rs_source *whole, const rs_source *next)
{
	whole->bytes = next->bytes;
	whole->lines += next->lines;
	whole->events += next->events;
	whole->rejected += next->rejected;
	whole->tail_hash = next->tail_hash;
	whole->flags = next->flags;
}

static int record_source(rs_store *s, MDB_txn *txn, const rs_part_source *ps)
{
	rs_source in = ps->src, have, next;
	uint8_t id[16];
	int rc;

	in.expect_bytes = RS_SOURCE_ANY;
	rc = get_source(s, txn, in.fingerprint, &have);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	int known = rc == 0;
	if (known && have.bytes >= in.bytes)
		return 0; /* covered already: the furthest progress is kept */
	if (ps->from > 0 && !(known && have.bytes == ps->from)) {
		/* not next to the input's progress yet: a range of its own */
		rs_source r = in;
		range_id(in.fingerprint, ps->from, r.fingerprint);
		snprintf(r.name, sizeof r.name, "%.150s [bytes %llu-%llu]", in.name,
		         (unsigned long long)ps->from, (unsigned long long)in.bytes);
		return rs_store_put_source(txn, s->sources, &r);
	}
	if (ps->from > 0) {
		extend(&have, &in);
		in = have;
	}
	/* the ranges that follow, already here, join it */
	for (;;) {
		range_id(in.fingerprint, in.bytes, id);
		if ((rc = get_source(s, txn, id, &next)) == MDB_NOTFOUND)
			break;
		if (rc)
			return rc;
		extend(&in, &next);
		MDB_val k = { 16, id };
		if ((rc = mdb_del(txn, s->sources, &k, NULL)))
			return rc;
	}
	return rs_store_put_source(txn, s->sources, &in);
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

	for (size_t i = 0; i < rs_part_nsources(p); i++)
		if ((rc = record_source(s, txn, rs_part_source_at(p, i))))
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
