/* Sources: each input's progress (fingerprint -> bytes, lines, events,
 * rejects, tail hash, flags, name), how it is stored, and reading it back.
 * Writing it happens in apply.c, in the same transaction as the records
 * the input produced. */
#include <string.h>

#include <lmdb.h>

#include <rewardstore/store.h>

#include "store-private.h"

#define SOURCE_VALUE_LEN (6 * 8)

int rs_store_decode_source(rs_source *src, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	size_t name_len;

	if (k->mv_size != sizeof src->fingerprint || v->mv_size < SOURCE_VALUE_LEN)
		return RS_ECORRUPT;
	memcpy(src->fingerprint, k->mv_data, sizeof src->fingerprint);
	src->bytes = rs_get_u64(p);
	src->lines = rs_get_u64(p + 8);
	src->events = rs_get_u64(p + 16);
	src->rejected = rs_get_u64(p + 24);
	src->tail_hash = rs_get_u64(p + 32);
	src->flags = rs_get_u64(p + 40);
	name_len = v->mv_size - SOURCE_VALUE_LEN;
	if (name_len >= sizeof src->name)
		name_len = sizeof src->name - 1;
	memcpy(src->name, p + SOURCE_VALUE_LEN, name_len);
	src->name[name_len] = '\0';
	return 0;
}

int rs_store_put_source(MDB_txn *txn, MDB_dbi dbi, const rs_source *src)
{
	uint8_t buf[SOURCE_VALUE_LEN + sizeof src->name];
	size_t name_len = strnlen(src->name, sizeof src->name);
	MDB_val k = { sizeof src->fingerprint, (void *)src->fingerprint };
	MDB_val v = { SOURCE_VALUE_LEN + name_len, buf };

	rs_put_u64(buf, src->bytes);
	rs_put_u64(buf + 8, src->lines);
	rs_put_u64(buf + 16, src->events);
	rs_put_u64(buf + 24, src->rejected);
	rs_put_u64(buf + 32, src->tail_hash);
	rs_put_u64(buf + 40, src->flags);
	memcpy(buf + SOURCE_VALUE_LEN, src->name, name_len);
	return mdb_put(txn, dbi, &k, &v, 0);
}

int rs_store_source_get(rs_store *s, const uint8_t fp[16], rs_source *out,
                        rs_error *err)
{
	MDB_txn *txn;
	MDB_val k = { 16, (void *)fp }, v;
	int rc;

	pthread_mutex_lock(&s->map_mu);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
		pthread_mutex_unlock(&s->map_mu);
		return rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
	}
	rc = mdb_get(txn, s->sources, &k, &v);
	if (rc == 0 && rs_store_decode_source(out, &k, &v))
		rc = rs_error_set(err, RS_ECORRUPT, "a source entry is damaged");
	else if (rc && rc != MDB_NOTFOUND)
		rs_store_fail(err, s->path, rc, "cannot read a source");
	mdb_txn_abort(txn);
	pthread_mutex_unlock(&s->map_mu);
	return rc;
}

int rs_store_sources(rs_store *s, int (*fn)(void *ctx, const rs_source *src),
                     void *ctx, rs_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	rs_source src;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
	if ((rc = mdb_cursor_open(txn, s->sources, &cur))) {
		rs_store_fail(err, s->path, rc, "cannot open a cursor");
		goto abort;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (rs_store_decode_source(&src, &k, &v)) {
			rc = rs_error_set(err, RS_ECORRUPT, "a source entry is damaged");
			goto close;
		}
		if ((rc = fn(ctx, &src)))
			goto close;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		rs_store_fail(err, s->path, rc, "cannot read the sources");
close:
	mdb_cursor_close(cur);
abort:
	mdb_txn_abort(txn);
	return rc;
}
