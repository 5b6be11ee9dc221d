/* The catalog as the store keeps it: loaded (replaced) in one
 * transaction, read back whole.  Parsing a catalog file and looking codes
 * up is catalog.c's. */
#include <string.h>

#include <lmdb.h>

#include <rewardstore/catalog.h>
#include <rewardstore/store.h>

#include "store-private.h"

/* "catalog": code -> 16 id bytes + name; "catalog_ids": id -> code. */

static int catalog_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const rs_catalog *c = arg;
	uint8_t buf[RS_UUID_LEN + 4 * RS_NAME_MAX_CHARS];
	int rc;

	/* replace: empty both, then fill */
	if ((rc = mdb_drop(txn, s->catalog, 0)) || (rc = mdb_drop(txn, s->catalog_ids, 0)))
		goto failed;
	for (size_t i = 0; i < rs_catalog_size(c); i++) {
		const rs_catalog_entry *e = rs_catalog_entry_at(c, i);
		size_t name_len = e->name.n < sizeof buf - RS_UUID_LEN ? e->name.n : sizeof buf - RS_UUID_LEN;
		memcpy(buf, e->id, RS_UUID_LEN);
		memcpy(buf + RS_UUID_LEN, e->name.p, name_len);
		MDB_val k = { e->code.n, (void *)e->code.p }, v = { RS_UUID_LEN + name_len, buf };
		MDB_val ik = { RS_UUID_LEN, (void *)e->id }, iv = { e->code.n, (void *)e->code.p };
		if ((rc = mdb_put(txn, s->catalog, &k, &v, 0)) ||
		    (rc = mdb_put(txn, s->catalog_ids, &ik, &iv, 0)))
			goto failed;
	}
	return 0;
failed:
	if (rc != MDB_MAP_FULL)
		rs_store_fail(err, s->path, rc, "cannot write the catalog");
	return rc;
}

int rs_store_catalog_put(rs_store *s, const rs_catalog *c, rs_error *err)
{
	return rs_store_write(s, catalog_body, (void *)c, err);
}

int rs_store_catalog_get(rs_store *s, rs_catalog **out, rs_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	rs_catalog *c;
	int rc;

	if ((rc = rs_catalog_new(&c)))
		return rs_error_set(err, rc, "out of memory");
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
		rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
		goto free_catalog;
	}
	if ((rc = mdb_cursor_open(txn, s->catalog, &cur))) {
		rs_store_fail(err, s->path, rc, "cannot open a cursor");
		goto abort;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size < RS_UUID_LEN) {
			rc = rs_error_set(err, RS_ECORRUPT, "a catalog entry is damaged");
			goto close;
		}
		if (rs_catalog_add(c, v.mv_data, k.mv_data, k.mv_size,
		                   (const char *)v.mv_data + RS_UUID_LEN,
		                   v.mv_size - RS_UUID_LEN) == RS_ENOMEM) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto close;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		rs_store_fail(err, s->path, rc, "cannot read the catalog");
close:
	mdb_cursor_close(cur);
abort:
	mdb_txn_abort(txn);
	if (rc == 0) {
		*out = c;
		return 0;
	}
free_catalog:
	rs_catalog_free(c);
	return rc;
}
