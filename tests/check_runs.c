/* src/runs.c, and rs_store_apply_runs: runs read back merged in key order,
 * and a stretch applied as runs gives the store that applying its batches
 * one by one gives. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "suites.h"


static const char *names[] = { "a", "bb", "캐릭터", "a longer name, with a comma", "" };

/* n random observations over few users and codes, so keys repeat within a
 * batch, across batches, and against what a store already holds */
static void fill_random(rs_batch *b, uint64_t *seed, int n)
{
	for (int i = 0; i < n; i++) {
		rs_obs o;
		char code[16];
		const char *name = names[test_rand(seed) % 5];
		memset(&o, 0, sizeof o);
		memset(o.user_id, (int)(test_rand(seed) % 40) * 6, 16);
		o.user_id[15] = (uint8_t)(test_rand(seed) % 3);
		snprintf(code, sizeof code, "c%d", (int)(test_rand(seed) % 7));
		o.code = (rs_str){ code, (uint32_t)strlen(code) };
		o.acquired_at = (int64_t)(test_rand(seed) % 1000000);
		if (test_rand(seed) % 2) {
			memset(o.character_id, (int)(test_rand(seed) % 5 + 1), 16);
			o.has_character_id = 1;
		}
		o.name = (rs_str){ name, (uint32_t)strlen(name) };
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
	}
}

START_TEST(runs_read_back_in_key_order)
{
	rs_runs *r, *out;
	rs_runs_reader *rd, *lo, *hi;
	rs_batch *b;
	rs_error err;
	uint64_t seed = 7;
	size_t added = 0, seen = 0;
	const uint8_t *key, *val, *prev = NULL;
	size_t key_len, val_len, prev_len = 0;

	ck_assert_int_eq(rs_runs_new(&r, test_dir, &err), 0);
	ck_assert_int_eq(rs_batch_new(&b, 4096, 0), 0);
	for (int i = 0; i < 9; i++) {
		fill_random(b, &seed, 300);
		added += rs_batch_count(b);
		ck_assert_int_eq(rs_runs_add(r, b, &err), 0);
		rs_batch_clear(b);
	}
	ck_assert_uint_eq(rs_runs_count(r), 9);
	ck_assert_int_eq(rs_runs_reader_open(r, RS_RUNS_ALL, &rd, &err), 0);
	while (rs_runs_reader_next(rd, &key, &key_len, &val, &val_len)) {
		rs_record rec;
		if (prev)
			ck_assert_int_le(rs_key_cmp(prev, prev_len, key, key_len), 0);
		ck_assert_int_eq(rs_record_decode(&rec, val, val_len), 0);
		prev = key;
		prev_len = key_len;
		seen++;
	}
	ck_assert_uint_eq(seen, added);
	/* the two halves are the whole, split where the split is */
	size_t low = 0, high = 0;
	ck_assert_int_eq(rs_runs_reader_open(r, RS_RUNS_LOW, &lo, &err), 0);
	while (rs_runs_reader_next(lo, &key, &key_len, &val, &val_len)) {
		ck_assert_uint_lt(key[0], RS_RUNS_SPLIT);
		low++;
	}
	ck_assert_int_eq(rs_runs_reader_open(r, RS_RUNS_HIGH, &hi, &err), 0);
	while (rs_runs_reader_next(hi, &key, &key_len, &val, &val_len)) {
		ck_assert_uint_ge(key[0], RS_RUNS_SPLIT);
		high++;
	}
	ck_assert_uint_gt(low, 0);
	ck_assert_uint_gt(high, 0);
	ck_assert_uint_eq(low + high, added);
	rs_runs_reader_close(rd);
	rs_runs_reader_close(lo);
	rs_runs_reader_close(hi);
	/* a merged stream appended as a run reads back the same */
	ck_assert_int_eq(rs_runs_new(&out, test_dir, &err), 0);
	ck_assert_int_eq(rs_runs_reader_open(r, RS_RUNS_ALL, &rd, &err), 0);
	while (rs_runs_reader_next(rd, &key, &key_len, &val, &val_len))
		ck_assert_int_eq(rs_runs_append(out, key, key_len, val, val_len, &err), 0);
	ck_assert_int_eq(rs_runs_append_end(out, &err), 0);
	rs_runs_reader_close(rd);
	ck_assert_uint_eq(rs_runs_count(out), 1);
	ck_assert_int_eq(rs_runs_reader_open(r, RS_RUNS_HIGH, &rd, &err), 0);
	ck_assert_int_eq(rs_runs_reader_open(out, RS_RUNS_HIGH, &hi, &err), 0);
	for (size_t i = 0; i < high; i++) {
		const uint8_t *k2, *v2;
		size_t k2n, v2n;
		ck_assert_int_eq(rs_runs_reader_next(rd, &key, &key_len, &val, &val_len), 1);
		ck_assert_int_eq(rs_runs_reader_next(hi, &k2, &k2n, &v2, &v2n), 1);
		ck_assert_int_eq(rs_key_cmp(key, key_len, k2, k2n), 0);
	}
	ck_assert_int_eq(rs_runs_reader_next(hi, &key, &key_len, &val, &val_len), 0);
	rs_runs_reader_close(rd);
	rs_runs_reader_close(hi);
	rs_runs_free(out);
	/* cleared, it holds nothing */
	ck_assert_int_eq(rs_runs_clear(r, &err), 0);
	ck_assert_uint_eq(rs_runs_count(r), 0);
	ck_assert_int_eq(rs_runs_reader_open(r, RS_RUNS_ALL, &rd, &err), 0);
	ck_assert_int_eq(rs_runs_reader_next(rd, &key, &key_len, &val, &val_len), 0);
	rs_runs_reader_close(rd);
	rs_batch_free(b);
	rs_runs_free(r);
	/* the file had no name: nothing is left in the directory */
	DIR *d = opendir(test_dir);
	struct dirent *de;
	int entries = 0;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		entries += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	ck_assert_int_eq(entries, 0);
}
END_TEST

START_TEST(damaged_entries_are_errors)
{
	/* key length 17, the key, value length 3, the value */
	uint8_t buf[2 + 17 + 4 + 3] = { 0, 17 };
	const uint8_t *key, *val;
	size_t key_len, val_len, pos;

	memset(buf + 2, 0x41, 17);
	buf[2 + 17 + 3] = 3;
	memcpy(buf + 2 + 17 + 4, "abc", 3);
	pos = 0;
	ck_assert_int_eq(rs_packed_next(buf, sizeof buf, &pos, &key, &key_len, &val, &val_len), 1);
	ck_assert_uint_eq(key_len, 17);
	ck_assert_uint_eq(val_len, 3);
	ck_assert_int_eq(memcmp(val, "abc", 3), 0);
	ck_assert_int_eq(rs_packed_next(buf, sizeof buf, &pos, &key, &key_len, &val, &val_len), 0);
	/* cut anywhere inside the entry: an error, not a read past the end */
	for (size_t cut = 1; cut < sizeof buf; cut++) {
		pos = 0;
		ck_assert_int_eq(rs_packed_next(buf, cut, &pos, &key, &key_len, &val, &val_len), -1);
	}
	/* a value length past the end */
	buf[2 + 17 + 3] = 4;
	pos = 0;
	ck_assert_int_eq(rs_packed_next(buf, sizeof buf, &pos, &key, &key_len, &val, &val_len), -1);
}
END_TEST

/* every record of two stores, compared */
static void same_stores(rs_store *a, rs_store *b)
{
	rs_cursor *ca, *cb;
	rs_error err;
	const uint8_t *ka, *kb;
	size_t la, lb;
	rs_record ra, rb;
	int n = 0, ga, gb;

	ck_assert_int_eq(rs_cursor_open(a, &ca, &err), 0);
	ck_assert_int_eq(rs_cursor_open(b, &cb, &err), 0);
	for (;;) {
		ga = rs_cursor_next(ca, &ka, &la, &ra, &err);
		gb = rs_cursor_next(cb, &kb, &lb, &rb, &err);
		ck_assert_int_eq(ga, gb);
		if (ga != 1)
			break;
		ck_assert_int_eq(rs_key_cmp(ka, la, kb, lb), 0);
		ck_assert(rs_record_same(&ra, &rb));
		ck_assert_uint_eq(ra.n_obs, rb.n_obs);
		n++;
	}
	ck_assert_int_eq(ga, 0);
	ck_assert_int_gt(n, 100);
	rs_cursor_close(ca);
	rs_cursor_close(cb);
}

/* per_batch 30: runs smaller than the size two threads merge; 400: larger */
static void runs_against_batches(const char *name, int per_batch)
{
	char pa[128], pb[128];
	rs_store *a, *b;
	rs_runs *r;
	rs_batch *bt;
	rs_error err;
	rs_source src = { .bytes = 42, .lines = 3, .events = 7 };
	rs_source got;
	uint64_t seed = 11, seed2;

	snprintf(pa, sizeof pa, "%s/%s-a", test_dir, name);
	snprintf(pb, sizeof pb, "%s/%s-b", test_dir, name);
	ck_assert_int_eq(rs_store_open(&a, pa, 0, &err), 0);
	ck_assert_int_eq(rs_store_open(&b, pb, 0, &err), 0);
	ck_assert_int_eq(rs_batch_new(&bt, 4096, 0), 0);
	/* the same records in both stores first: runs merge into them */
	fill_random(bt, &seed, 200);
	ck_assert_int_eq(rs_store_apply(a, bt, NULL, 0, &err), 0);
	rs_batch_clear(bt);
	seed = 11;
	fill_random(bt, &seed, 200);
	ck_assert_int_eq(rs_store_apply(b, bt, NULL, 0, &err), 0);
	rs_batch_clear(bt);
	/* then eight batches: one by one into a, as runs into b */
	seed2 = seed;
	for (int i = 0; i < 8; i++) {
		fill_random(bt, &seed, per_batch);
		ck_assert_int_eq(rs_store_apply(a, bt, NULL, 0, &err), 0);
		rs_batch_clear(bt);
	}
	ck_assert_int_eq(rs_runs_new(&r, pb, &err), 0);
	for (int i = 0; i < 8; i++) {
		fill_random(bt, &seed2, per_batch);
		ck_assert_int_eq(rs_runs_add(r, bt, &err), 0);
		rs_batch_clear(bt);
	}
	memset(src.fingerprint, 0xcd, 16);
	src.expect_bytes = 0;
	strcpy(src.name, "runs.jsonl");
	ck_assert_int_eq(rs_store_apply_runs(b, r, &src, 1, &err), 0);
	same_stores(a, b);
	/* the progress went with the records */
	ck_assert_int_eq(rs_store_source_get(b, src.fingerprint, &got, &err), 0);
	ck_assert_uint_eq(got.bytes, 42);
	/* and a progress the store does not say is refused, applying nothing */
	src.expect_bytes = 41;
	src.bytes = 99;
	ck_assert_int_eq(rs_store_apply_runs(b, r, &src, 1, &err), RS_ECONFLICT);
	same_stores(a, b);
	rs_runs_free(r);
	rs_batch_free(bt);
	rs_store_close(a);
	rs_store_close(b);
}

START_TEST(applying_runs_is_applying_batches)
{
	runs_against_batches("small", 30);
	runs_against_batches("large", 400);
}
END_TEST

/* A follower reads what is appended, entry for entry, as far as it is told
 * the file is written -- each time a buffer's worth reaches the file, as
 * the store's helper thread says -- and nothing past it; bytes that make
 * no whole entry are left over (a damaged run). */
START_TEST(a_follower_reads_what_is_appended)
{
	rs_runs *r;
	rs_runs_follower *f;
	rs_error err;
	uint8_t key[40], val[300];
	const uint8_t *k, *v;
	size_t kn, vn;
	int read = 0;
	const int n = 20000; /* about 6 MiB: several flushes of 1 MiB */

	ck_assert_int_eq(rs_runs_new(&r, test_dir, &err), 0);
	ck_assert_int_eq(rs_runs_follower_open(r, &f, &err), 0);
	for (int i = 0; i <= n; i++) {
		if (i < n) {
			snprintf((char *)key, sizeof key, "key-%08d", i);
			memset(val, 'a' + i % 26, sizeof val);
			ck_assert_int_eq(rs_runs_append(r, key, 12, val, 1 + (size_t)i % 300, &err), 0);
		} else {
			ck_assert_int_eq(rs_runs_append_end(r, &err), 0);
		}
		int rc;
		while ((rc = rs_runs_follower_next(f, rs_runs_bytes(r), &k, &kn, &v, &vn, &err)) == 1) {
			char want[16];
			snprintf(want, sizeof want, "key-%08d", read);
			ck_assert_uint_eq(kn, 12);
			ck_assert_int_eq(memcmp(k, want, 12), 0);
			ck_assert_uint_eq(vn, 1 + (size_t)read % 300);
			ck_assert_uint_eq(v[0], (uint8_t)('a' + read % 26));
			read++;
		}
		ck_assert_int_eq(rc, 0);
		/* never ahead of what the writer has put in the file */
		ck_assert_int_le(read, i);
	}
	ck_assert_int_eq(read, n);
	ck_assert(!rs_runs_follower_partial(f));
	rs_runs_follower_close(f);
	rs_runs_free(r);

	/* told that more is written than makes whole entries */
	ck_assert_int_eq(rs_runs_new(&r, test_dir, &err), 0);
	ck_assert_int_eq(rs_runs_follower_open(r, &f, &err), 0);
	ck_assert_int_eq(rs_runs_append(r, (const uint8_t *)"key-00000000", 12, val, 10, &err), 0);
	ck_assert_int_eq(rs_runs_append_end(r, &err), 0);
	ck_assert_int_eq(rs_runs_follower_next(f, rs_runs_bytes(r) - 3, &k, &kn, &v, &vn, &err), 0);
	ck_assert(rs_runs_follower_partial(f));
	rs_runs_follower_close(f);
	rs_runs_free(r);
}
END_TEST

Suite *runs_suite(void)
{
	Suite *s = suite_create("runs");
	TCase *tc = tcase_create("runs");
	tcase_add_checked_fixture(tc, test_dir_make, test_dir_remove);
	tcase_add_test(tc, runs_read_back_in_key_order);
	tcase_add_test(tc, damaged_entries_are_errors);
	tcase_add_test(tc, applying_runs_is_applying_batches);
	tcase_add_test(tc, a_follower_reads_what_is_appended);
	suite_add_tcase(s, tc);
	return s;
}
