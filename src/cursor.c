/* Reading records: a cursor over one read-only snapshot, in key order. */
#include <stdlib.h>

#include <lmdb.h>

#include <rewardstore/record.h>
#include <rewardstore/store.h>

#include "store-private.h"

struct rs_cursor {
	rs_store *s;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_cursor_op op;
};

/* ---- reading ---- */

int rs_cursor_open(rs_store *s, rs_cursor **out, rs_error *err)
{
	rs_cursor *c = calloc(1, sizeof *c);
	int rc;

	if (c == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	c->s = s;
	c->op = MDB_FIRST;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &c->txn))) {
		rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
		goto free_cursor;
	}
	if ((rc = mdb_cursor_open(c->txn, s->records, &c->cur))) {
		rs_store_fail(err, s->path, rc, "cannot open a cursor");
		goto abort;
	}
	*out = c;
	return 0;
abort:
	mdb_txn_abort(c->txn);
free_cursor:
	free(c);
	return rc;
}

int rs_cursor_seek(rs_cursor *c, const uint8_t *key, size_t key_len,
                   rs_error *err)
{
	MDB_val k = { key_len, (void *)key }, v;
	int rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);

	if (rc && rc != MDB_NOTFOUND)
		return rs_store_fail(err, c->s->path, rc, "cannot position a cursor");
	/* the next call returns the found record, or nothing */
	c->op = rc ? (MDB_cursor_op)-1 : MDB_GET_CURRENT;
	return 0;
}

int rs_cursor_next(rs_cursor *c, const uint8_t **key, size_t *key_len,
                   rs_record *r, rs_error *err)
{
	MDB_val k, v;
	int rc;

	if (c->op == (MDB_cursor_op)-1)
		return 0;
	rc = mdb_cursor_get(c->cur, &k, &v, c->op);
	c->op = MDB_NEXT;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rs_store_fail(err, c->s->path, rc, "cannot read a record");
	if (k.mv_size <= RS_UUID_LEN ||
	    (rc = rs_record_decode(r, v.mv_data, v.mv_size))) {
		rc = rc ? rc : RS_ECORRUPT;
		rs_error_set(err, rc, "a stored record is damaged: %s", rs_strerror(rc));
		rs_error_locate(err, c->s->path, 0, 0);
		return rc;
	}
	*key = k.mv_data;
	*key_len = k.mv_size;
	return 1;
}

uint64_t rs_cursor_snapshot(const rs_cursor *c)
{
	return (uint64_t)mdb_txn_id(c->txn);
}

void rs_cursor_close(rs_cursor *c)
{
	if (c == NULL)
		return;
	mdb_cursor_close(c->cur);
	mdb_txn_abort(c->txn);
	free(c);
}
