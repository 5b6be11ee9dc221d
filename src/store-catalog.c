/* The catalog as the store keeps it: loaded (replaced) in one
 * transaction, read back whole.  Parsing a catalog file and looking codes
 * up is catalog.c's. */
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/catalog.h>
#include <rewardstore/store.h>

#include "store-private.h"

/* "catalog": code -> 16 id bytes + name; "catalog_ids": id -> code. */

/* "catalog_marks": code -> the code's catalog entry as it was before its
 * first change that was marked (run 0) and after each change since:
 *   versions x { u64 run, u8 present, id[16], u16 name_len, name }
 * so that an export --changed-since R knows the catalog as it was at R. */
#define VERSION_FIXED (8 + 1 + RS_UUID_LEN + 2)

static uint8_t *put_version(uint8_t *p, uint64_t run, int present, const void *id,
                            const void *name, size_t name_len)
{
	rs_put_u64(p, run);
	p[8] = (uint8_t)present;
	memset(p + 9, 0, RS_UUID_LEN);
	if (present)
		memcpy(p + 9, id, RS_UUID_LEN);
	p[9 + RS_UUID_LEN] = (uint8_t)name_len;
	p[10 + RS_UUID_LEN] = (uint8_t)(name_len >> 8);
	if (name_len)
		memcpy(p + VERSION_FIXED, name, name_len);
	return p + VERSION_FIXED + name_len;
}

/* The code's entry changes in this run: to (id, name), or away (present
 * 0).  old is its stored value (mv_data NULL: absent). */
static int mark_code(rs_store *s, MDB_txn *txn, const void *code, size_t n, const MDB_val *old,
                     int present, const void *id, const void *name, size_t name_len)
{
	MDB_val k = { n, (void *)code }, v;
	int rc = mdb_get(txn, s->catalog_marks, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	size_t have = rc ? 0 : v.mv_size;
	size_t old_name = old->mv_data ? old->mv_size - RS_UUID_LEN : 0;
	uint8_t *buf = malloc(have + 2 * VERSION_FIXED + old_name + name_len);
	if (buf == NULL)
		return RS_ENOMEM;
	uint8_t *p = buf;
	if (have) {
		memcpy(p, v.mv_data, have);
		p += have;
	} else {
		/* the first marked change: what it was before, as of run 0 */
		p = put_version(p, 0, old->mv_data != NULL, old->mv_data,
		                old->mv_data ? (const uint8_t *)old->mv_data + RS_UUID_LEN : NULL,
		                old_name);
	}
	p = put_version(p, s->run, present, id, name, name_len);
	v.mv_size = (size_t)(p - buf);
	v.mv_data = buf;
	rc = mdb_put(txn, s->catalog_marks, &k, &v, 0);
	free(buf);
	return rc;
}

static int mark_changes(rs_store *s, MDB_txn *txn, const rs_catalog *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	for (size_t i = 0; i < rs_catalog_size(c); i++) {
		const rs_catalog_entry *e = rs_catalog_entry_at(c, i);
		k.mv_size = e->code.n;
		k.mv_data = (void *)e->code.p;
		rc = mdb_get(txn, s->catalog, &k, &v);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (rc == MDB_NOTFOUND)
			v.mv_data = NULL;
		if ((rc == MDB_NOTFOUND || v.mv_size != RS_UUID_LEN + e->name.n ||
		     memcmp(v.mv_data, e->id, RS_UUID_LEN) != 0 ||
		     (e->name.n &&
		      memcmp((const uint8_t *)v.mv_data + RS_UUID_LEN, e->name.p, e->name.n) != 0)) &&
		    (rc = mark_code(s, txn, e->code.p, e->code.n, &v, 1, e->id, e->name.p, e->name.n)))
			return rc;
	}
	if ((rc = mdb_cursor_open(txn, s->catalog, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (v.mv_size >= RS_UUID_LEN && rs_catalog_find(c, k.mv_data, k.mv_size) == NULL &&
		    (rc = mark_code(s, txn, k.mv_data, k.mv_size, &v, 0, NULL, NULL, 0)))
			break;
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int rs_store_catalog_at(rs_store *s, uint64_t since, const rs_catalog *now, rs_catalog **then,
                        rs_catalog **changed, rs_error *err)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	rs_catalog *at = NULL, *set = NULL;
	int rc;

	*then = *changed = NULL;
	if ((rc = rs_catalog_new(&at)) || (rc = rs_catalog_new(&set))) {
		rs_error_set(err, rc, "out of memory");
		goto done;
	}
	if (s->has_catalog_marks) {
		if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
			rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
			goto done;
		}
		if ((rc = mdb_cursor_open(txn, s->catalog_marks, &cur))) {
			rs_store_fail(err, s->path, rc, "cannot open a cursor");
			goto done;
		}
		/* the codes changed after `since`, each with its entry as it was
		 * then: the last version of a run up to `since` */
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *p = v.mv_data, *end = p + v.mv_size, *state = NULL, *newest = p;
			uint64_t last = 0;
			while (end - p >= VERSION_FIXED) {
				uint64_t run = rs_get_u64(p);
				size_t nl = (size_t)p[9 + RS_UUID_LEN] | (size_t)p[10 + RS_UUID_LEN] << 8;
				if ((size_t)(end - p) < VERSION_FIXED + nl)
					break;
				if (run <= since)
					state = p;
				last = run;
				newest = p;
				p += VERSION_FIXED + nl;
			}
			if (p != end || state == NULL) {
				rc = rs_error_set(err, RS_ECORRUPT, "store '%s' has a damaged catalog mark",
				                  s->path);
				goto done;
			}
			if (last <= since)
				continue;
			size_t nl = (size_t)state[9 + RS_UUID_LEN] | (size_t)state[10 + RS_UUID_LEN] << 8;
			/* in the set under its newest id: ids differ, which keeps the
			 * set's index of ids short */
			if (rs_catalog_add(set, newest + 9, k.mv_data, k.mv_size, "", 0) == RS_ENOMEM ||
			    (state[8] && rs_catalog_add(at, state + 9, k.mv_data, k.mv_size,
			                                (const char *)state + VERSION_FIXED, nl) == RS_ENOMEM)) {
				rc = rs_error_set(err, RS_ENOMEM, "out of memory");
				goto done;
			}
		}
		if (rc != MDB_NOTFOUND) {
			rs_store_fail(err, s->path, rc, "cannot read the catalog's marks");
			goto done;
		}
		rc = 0;
	}
	/* the other codes: as they are now */
	for (size_t i = 0; i < rs_catalog_size(now); i++) {
		const rs_catalog_entry *e = rs_catalog_entry_at(now, i);
		if (rs_catalog_find(set, e->code.p, e->code.n) == NULL &&
		    rs_catalog_add(at, e->id, e->code.p, e->code.n, e->name.p, e->name.n) == RS_ENOMEM) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto done;
		}
	}
done:
	mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (rc) {
		rs_catalog_free(at);
		rs_catalog_free(set);
		return rc;
	}
	*then = at;
	*changed = set;
	return 0;
}

static int catalog_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const rs_catalog *c = arg;
	uint8_t buf[RS_UUID_LEN + 4 * RS_NAME_MAX_CHARS];
	int rc;

	/* codes whose entry this load adds, changes or removes: their rows
	 * change without any observation (export --changed-since) */
	if ((rc = mark_changes(s, txn, c)))
		goto failed;
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
