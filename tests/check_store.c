/* src/store.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include <rewardstore/batch.h>
#include <rewardstore/catalog.h>
#include <rewardstore/record.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "suites.h"


static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", test_dir, name);
}

static void fill(rs_batch *b, int users, int codes, int64_t t, const char *name)
{
	for (int u = 0; u < users; u++)
		for (int c = 0; c < codes; c++) {
			rs_obs o;
			char code[16];
			memset(&o, 0, sizeof o);
			memset(o.user_id, u + 1, 16);
			snprintf(code, sizeof code, "code-%d", c);
			o.code = (rs_str){ code, (uint32_t)strlen(code) };
			o.acquired_at = t;
			o.name = (rs_str){ name, (uint32_t)strlen(name) };
			ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
		}
	rs_batch_sort(b);
}

START_TEST(apply_and_read_back)
{
	char path[128];
	rs_store *s;
	rs_batch *b;
	rs_cursor *c;
	rs_error err;
	rs_source src = { .bytes = 10, .lines = 2, .events = 9 };
	const uint8_t *key;
	size_t key_len;
	rs_record r;
	int rows = 0;

	path_in(path, sizeof path, "store");
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), 0);
	ck_assert_int_eq(rs_batch_new(&b, 64, 0), 0);
	fill(b, 3, 3, 100, "old");
	memset(src.fingerprint, 0xab, 16);
	strcpy(src.name, "in.jsonl");
	ck_assert_int_eq(rs_store_apply(s, b, &src, 1, &err), 0);
	rs_batch_clear(b);
	fill(b, 3, 3, 200, "new");
	ck_assert_int_eq(rs_store_apply(s, b, NULL, 0, &err), 0);

	ck_assert_int_eq(rs_cursor_open(s, &c, &err), 0);
	while (rs_cursor_next(c, &key, &key_len, &r, &err) == 1) {
		ck_assert_int_eq(r.acquired_min, 100);
		ck_assert_int_eq(r.t_max, 200);
		ck_assert_int_eq(memcmp(r.name.v.p, "new", 3), 0);
		ck_assert_uint_eq(r.n_obs, 2);
		rows++;
	}
	rs_cursor_close(c);
	ck_assert_int_eq(rows, 9);

	rs_source got;
	ck_assert_int_eq(rs_store_source_get(s, src.fingerprint, &got, &err), 0);
	ck_assert_uint_eq(got.bytes, 10);
	ck_assert_uint_eq(got.events, 9);
	ck_assert_str_eq(got.name, "in.jsonl");
	memset(src.fingerprint, 0xcd, 16);
	ck_assert_int_eq(rs_store_source_get(s, src.fingerprint, &got, &err), MDB_NOTFOUND);

	rs_store_stats st;
	ck_assert_int_eq(rs_store_stats_get(s, &st, &err), 0);
	ck_assert_uint_eq(st.records, 9);
	ck_assert_uint_eq(st.users, 3);
	ck_assert_uint_eq(st.codes, 3);
	ck_assert_uint_eq(st.observations, 18);
	ck_assert_uint_eq(st.sources, 1);
	rs_batch_free(b);
	rs_store_close(s);
}
END_TEST

/* Keys past the last stored one go in with MDB_APPEND: a batch whose keys
 * fall before, among, equal to and past the stored ones merges those equal
 * and inserts the rest, every one readable in order. */
static void fill_users(rs_batch *b, const int *users, int n, int64_t t)
{
	for (int i = 0; i < n; i++)
		for (int c = 0; c < 2; c++) {
			rs_obs o;
			char code[16];
			memset(&o, 0, sizeof o);
			memset(o.user_id, users[i], 16);
			snprintf(code, sizeof code, "code-%d", c);
			o.code = (rs_str){ code, (uint32_t)strlen(code) };
			o.acquired_at = t;
			ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
		}
}

START_TEST(appends_past_the_stored_keys)
{
	static const int stored[] = { 3, 5 }, added[] = { 7, 1, 3, 4, 5, 6 };
	char path[128];
	rs_store *s;
	rs_batch *b;
	rs_cursor *c;
	rs_error err;
	const uint8_t *key;
	size_t key_len;
	rs_record r;
	uint8_t prev[RS_KEY_MAX];
	size_t prev_len = 0;
	int rows = 0, merged = 0;

	for (int way = 0; way < 2; way++) {
		path_in(path, sizeof path, way ? "store-runs" : "store-batch");
		ck_assert_int_eq(rs_store_open(&s, path, 0, &err), 0);
		ck_assert_int_eq(rs_batch_new(&b, 64, 0), 0);
		fill_users(b, stored, 2, 100);
		ck_assert_int_eq(rs_store_apply(s, b, NULL, 0, &err), 0);
		rs_batch_clear(b);
		fill_users(b, added, 6, 200);
		if (way == 0) {
			ck_assert_int_eq(rs_store_apply(s, b, NULL, 0, &err), 0);
		} else {
			rs_runs *runs;
			ck_assert_int_eq(rs_runs_new(&runs, path, &err), 0);
			ck_assert_int_eq(rs_runs_add(runs, b, &err), 0);
			ck_assert_int_eq(rs_store_apply_runs(s, runs, NULL, 0, &err), 0);
			rs_runs_free(runs);
		}
		rows = merged = 0;
		prev_len = 0;
		ck_assert_int_eq(rs_cursor_open(s, &c, &err), 0);
		while (rs_cursor_next(c, &key, &key_len, &r, &err) == 1) {
			if (prev_len)
				ck_assert_int_lt(rs_key_cmp(prev, prev_len, key, key_len), 0);
			memcpy(prev, key, key_len);
			prev_len = key_len;
			int twice = key[0] == 3 || key[0] == 5;
			ck_assert_uint_eq(r.n_obs, twice ? 2 : 1);
			ck_assert_int_eq(r.acquired_min, twice ? 100 : 200);
			ck_assert_int_eq(r.t_max, 200);
			merged += twice;
			rows++;
		}
		rs_cursor_close(c);
		ck_assert_int_eq(rows, 12);
		ck_assert_int_eq(merged, 4);
		rs_batch_free(b);
		rs_store_close(s);
	}
}
END_TEST

START_TEST(seek_to_a_user)
{
	char path[128];
	rs_store *s;
	rs_batch *b;
	rs_cursor *c;
	rs_error err;
	const uint8_t *key;
	size_t key_len;
	rs_record r;
	uint8_t user[16];

	path_in(path, sizeof path, "store");
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), 0);
	ck_assert_int_eq(rs_batch_new(&b, 64, 0), 0);
	fill(b, 3, 2, 1, "n");
	ck_assert_int_eq(rs_store_apply(s, b, NULL, 0, &err), 0);
	ck_assert_int_eq(rs_cursor_open(s, &c, &err), 0);
	memset(user, 2, 16);
	ck_assert_int_eq(rs_cursor_seek(c, user, 16, &err), 0);
	ck_assert_int_eq(rs_cursor_next(c, &key, &key_len, &r, &err), 1);
	ck_assert_int_eq(memcmp(key, user, 16), 0);
	ck_assert_int_eq(memcmp(key + 16, "code-0", 6), 0);
	rs_cursor_close(c);
	ck_assert_int_eq(rs_cursor_open(s, &c, &err), 0);
	memset(user, 9, 16);
	ck_assert_int_eq(rs_cursor_seek(c, user, 16, &err), 0);
	ck_assert_int_eq(rs_cursor_next(c, &key, &key_len, &r, &err), 0);
	rs_cursor_close(c);
	rs_batch_free(b);
	rs_store_close(s);
}
END_TEST

START_TEST(refuses_what_is_not_a_store)
{
	char path[128], file[160];
	rs_store *s;
	rs_error err;
	FILE *fp;

	/* read-only open of nothing */
	path_in(path, sizeof path, "missing");
	ck_assert_int_eq(rs_store_open(&s, path, RS_STORE_RDONLY, &err), RS_ENOSTORE);
	ck_assert_ptr_nonnull(strstr(err.text, "no store at"));
	struct stat st;
	ck_assert_int_ne(stat(path, &st), 0); /* nothing was created */

	/* a directory with other files is left alone */
	path_in(path, sizeof path, "other");
	ck_assert_int_eq(mkdir(path, 0777), 0);
	snprintf(file, sizeof file, "%s/notes.txt", path);
	fp = fopen(file, "w");
	fputs("hello\n", fp);
	fclose(fp);
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), RS_ENOSTORE);
	ck_assert_ptr_nonnull(strstr(err.text, "is not a store"));

	/* a data.mdb that is not LMDB's */
	path_in(path, sizeof path, "fake");
	ck_assert_int_eq(mkdir(path, 0777), 0);
	snprintf(file, sizeof file, "%s/data.mdb", path);
	fp = fopen(file, "w");
	for (int i = 0; i < 2000; i++)
		fputs("not lmdb ", fp);
	fclose(fp);
	ck_assert_int_ne(rs_store_open(&s, path, 0, &err), 0);

	/* a file, not a directory */
	path_in(path, sizeof path, "plain");
	fp = fopen(path, "w");
	fclose(fp);
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), RS_ENOSTORE);
}
END_TEST

/* A store stamped by a newer rewardstore is refused, read or write. */
START_TEST(refuses_a_newer_format)
{
	char path[128];
	rs_store *s;
	rs_error err;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	uint32_t fmt = RS_STORE_FORMAT + 1;
	MDB_val k = { 6, "format" }, v = { 4, &fmt };

	path_in(path, sizeof path, "store");
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), 0);
	rs_store_close(s);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	ck_assert_int_eq(mdb_env_open(env, path, 0, 0666), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	ck_assert_int_eq(rs_store_open(&s, path, 0, &err), RS_EVERSION);
	ck_assert_ptr_nonnull(strstr(err.text, "newer"));
	ck_assert_int_eq(rs_store_open(&s, path, RS_STORE_RDONLY, &err), RS_EVERSION);
}
END_TEST

/* found by fuzzing: a catalog ending inside a quote freed its last line
 * twice */
START_TEST(catalog_open_quote_at_end)
{
	char path[128];
	rs_catalog *c;
	rs_error err;
	uint64_t rejected;
	FILE *fp;

	path_in(path, sizeof path, "catalog.csv");
	fp = fopen(path, "w");
	fputs("id,code,name\nc7df88f5-66af-4d75-bcd4-1825a5692738,char-a,A\n"
	      "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d,char-b,\"open", fp);
	fclose(fp);
	ck_assert_int_eq(rs_catalog_read(&c, path, NULL, NULL, &rejected, &err), 0);
	ck_assert_uint_eq(rs_catalog_size(c), 1);
	ck_assert_uint_eq(rejected, 1);
	ck_assert_ptr_nonnull(rs_catalog_find(c, "char-a", 6));
	rs_catalog_free(c);
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, test_dir_make, test_dir_remove);
	tcase_add_test(tc, apply_and_read_back);
	tcase_add_test(tc, appends_past_the_stored_keys);
	tcase_add_test(tc, seek_to_a_user);
	tcase_add_test(tc, refuses_what_is_not_a_store);
	tcase_add_test(tc, refuses_a_newer_format);
	tcase_add_test(tc, catalog_open_quote_at_end);
	suite_add_tcase(s, tc);
	return s;
}
