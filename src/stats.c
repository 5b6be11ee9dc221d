/* The store's statistics: records, users, distinct codes, observations,
 * sources and rejects, map and file size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include <rewardstore/store.h>

#include "hash.h"
#include "store-private.h"

/* A set of codes, to count the distinct ones. */
typedef struct code_set {
	rs_str *slot;
	size_t n, cap;
} code_set;


static int code_set_add(code_set *cs, const char *p, size_t n)
{
	if (2 * (cs->n + 1) > cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 256;
		rs_str *slot = calloc(cap, sizeof *slot);
		if (slot == NULL)
			return RS_ENOMEM;
		for (size_t i = 0; i < cs->cap; i++) {
			if (cs->slot[i].n == 0)
				continue;
			size_t j = rs_hash64(cs->slot[i].p, cs->slot[i].n, 0) & (cap - 1);
			while (slot[j].n)
				j = (j + 1) & (cap - 1);
			slot[j] = cs->slot[i];
		}
		free(cs->slot);
		cs->slot = slot;
		cs->cap = cap;
	}
	size_t j = rs_hash64(p, n, 0) & (cs->cap - 1);
	for (; cs->slot[j].n; j = (j + 1) & (cs->cap - 1))
		if (cs->slot[j].n == n && memcmp(cs->slot[j].p, p, n) == 0)
			return 0;
	char *copy = malloc(n);
	if (copy == NULL)
		return RS_ENOMEM;
	memcpy(copy, p, n);
	cs->slot[j].p = copy;
	cs->slot[j].n = (uint32_t)n;
	cs->n++;
	return 0;
}

static void code_set_free(code_set *cs)
{
	for (size_t i = 0; i < cs->cap; i++)
		free((void *)cs->slot[i].p);
	free(cs->slot);
}

static int count_source(void *ctx, const rs_source *src)
{
	rs_store_stats *st = ctx;
	st->sources++;
	st->rejected += src->rejected;
	return 0;
}

int rs_store_stats_get(rs_store *s, rs_store_stats *st, rs_error *err)
{
	rs_cursor *c;
	const uint8_t *key, *last_user = NULL;
	uint8_t prev_user[RS_UUID_LEN];
	size_t key_len;
	rs_record r;
	code_set codes = { 0 };
	MDB_envinfo info;
	char data[RS_ERROR_SOURCE_LEN + 16];
	struct stat fst;
	int rc;

	memset(st, 0, sizeof *st);
	if ((rc = rs_cursor_open(s, &c, err)))
		return rc;
	while ((rc = rs_cursor_next(c, &key, &key_len, &r, err)) == 1) {
		st->records++;
		if (last_user == NULL || memcmp(prev_user, key, RS_UUID_LEN) != 0) {
			st->users++;
			memcpy(prev_user, key, RS_UUID_LEN);
			last_user = prev_user;
		}
		st->observations += r.n_obs;
		st->dump_rows += r.n_dump;
		st->multi_id += r.multi_cid;
		if (code_set_add(&codes, (const char *)key + RS_UUID_LEN, key_len - RS_UUID_LEN)) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			break;
		}
	}
	st->codes = codes.n;
	code_set_free(&codes);
	rs_cursor_close(c);
	if (rc != 0)
		return rc;
	if ((rc = rs_store_sources(s, count_source, st, err)))
		return rc;
	mdb_env_info(s->env, &info);
	st->map_size = info.me_mapsize;
	snprintf(data, sizeof data, "%s/data.mdb", s->path);
	if (stat(data, &fst) == 0)
		st->file_size = (uint64_t)fst.st_size;
	return 0;
}
