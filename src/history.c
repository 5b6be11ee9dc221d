/* The store's history: one entry per run, numbered from 1, as text the
 * program composes.  It uses the store (store.c); the store's own need of
 * it -- the last run's number, read when it opens -- is store.c's
 * rs_store_last_run, so the calls go one way. */
#include <lmdb.h>

#include <rewardstore/store.h>

#include "bytes.h"
#include "store-private.h"

/* key = run number, big-endian, so that keys sort in order */

typedef struct history_entry {
	const char *text;
	size_t len;
} history_entry;

static int history_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const history_entry *h = arg;
	MDB_val k, v;
	uint8_t key[8];
	uint64_t run;
	int rc;

	if ((rc = rs_store_last_run(s, txn, &run)))
		return rs_store_fail(err, s->path, rc, "cannot record the run");
	run++;
	rs_put_be64(key, run);
	k.mv_size = 8;
	k.mv_data = key;
	v.mv_size = h->len;
	v.mv_data = (void *)h->text;
	if ((rc = mdb_put(txn, s->history, &k, &v, 0)) && rc != MDB_MAP_FULL)
		rs_store_fail(err, s->path, rc, "cannot record the run");
	return rc;
}

int rs_store_marks(rs_store *s, uint64_t *from, uint64_t *last, rs_error *err)
{
	MDB_txn *txn;
	int rc;

	/* the last run now (another writer may have added some since this
	 * store was opened) */
	*from = s->marks_from;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
	rc = rs_store_last_run(s, txn, last);
	mdb_txn_abort(txn);
	return rc ? rs_store_fail(err, s->path, rc, "cannot read the history") : 0;
}

int rs_store_history_add(rs_store *s, const char *text, size_t len, rs_error *err)
{
	history_entry h = { text, len };
	return rs_store_write(s, history_body, &h, err);
}

int rs_store_history(rs_store *s,
                     int (*fn)(void *ctx, uint64_t run, const char *text, size_t len),
                     void *ctx, rs_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
	if ((rc = mdb_cursor_open(txn, s->history, &cur))) {
		mdb_txn_abort(txn);
		return rs_store_fail(err, s->path, rc, "cannot open a cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t run = 0;
		for (size_t i = 0; i < k.mv_size && i < 8; i++)
			run = run << 8 | ((const uint8_t *)k.mv_data)[i];
		if ((rc = fn(ctx, run, v.mv_data, v.mv_size)))
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (rc < 0)
		rs_store_fail(err, s->path, rc, "cannot read the history");
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}
