/* src/part.c, src/reduce.c and src/compact.c: which partition a key is
 * in, partition files written from a store and read back, every damage
 * refused, a reduce that is a no-op the second time, and a streaming merge
 * of partition files that writes, byte for byte, the file of a store that
 * reduced them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/part.h>
#include <rewardstore/record.h>
#include <rewardstore/store.h>

#include <zlib.h>

#include "../src/hash.h"
#include "suites.h"

/* n contiguous ranges in key order: the partition never goes down as the
 * key goes up, every partition is hit, and the boundaries are where
 * floor(k * 2^64 / n) says */
static const uint32_t ns[] = { 1, 2, 3, 7, 10, 255, 4096 };

START_TEST(part_of_is_contiguous)
{
	uint32_t n = ns[_i];
	uint8_t key[RS_UUID_LEN + 1] = { 0 };
	uint32_t last = 0;
	uint64_t seed = 42 + n;

	/* keys in increasing order: the first eight bytes step up */
	for (uint64_t step = 0, hi = 0; step < 20000; step++) {
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(hi >> (56 - 8 * i));
		uint32_t k = rs_part_of(key, n);
		ck_assert_uint_lt(k, n);
		ck_assert_uint_ge(k, last);
		last = k;
		uint64_t inc = test_rand(&seed) >> 50;
		if (hi > UINT64_MAX - inc - 1)
			break;
		hi += inc + 1;
	}
	memset(key, 0xff, 8);
	ck_assert_uint_eq(rs_part_of(key, n), n - 1);
	memset(key, 0, 8);
	ck_assert_uint_eq(rs_part_of(key, n), 0);
	/* the first key of each partition is where it says */
	for (uint32_t k = 1; k < n && k < 300; k++) {
		uint64_t lo = (uint64_t)((((unsigned __int128)k << 64) + n - 1) / n);
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(lo >> (56 - 8 * i));
		ck_assert_uint_eq(rs_part_of(key, n), k);
		lo--;
		for (int i = 0; i < 8; i++)
			key[i] = (uint8_t)(lo >> (56 - 8 * i));
		ck_assert_uint_eq(rs_part_of(key, n), k - 1);
	}
}
END_TEST

static void setup(void) { test_dir_make(); }
static void teardown(void) { test_dir_remove(); }

/* a store with users spread over the key space, 3 codes each */
static void make_store_named(const char *path, int users, const char *name, int64_t t0)
{
	rs_store *s;
	rs_batch *b;
	rs_error err;
	uint64_t seed = 7;

	ck_assert_int_eq(rs_store_open(&s, path, RS_STORE_NOSYNC, &err), 0);
	ck_assert_int_eq(rs_batch_new(&b, 4096, 1u << 20), 0);
	for (int u = 0; u < users; u++)
		for (int c = 0; c < 3; c++) {
			rs_obs o;
			char code[16];
			memset(&o, 0, sizeof o);
			uint64_t a = test_rand(&seed), z = test_rand(&seed);
			memcpy(o.user_id, &a, 8);
			memcpy(o.user_id + 8, &z, 8);
			snprintf(code, sizeof code, "c%d", c);
			o.code = (rs_str){ code, (uint32_t)strlen(code) };
			o.name = (rs_str){ name, (uint32_t)strlen(name) };
			o.acquired_at = t0 + u;
			ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
		}
	rs_batch_sort(b);
	rs_source src = { .bytes = 99, .lines = 7, .events = 3 * (uint64_t)users, .rejected = 1,
	                  .name = "in.jsonl", .expect_bytes = RS_SOURCE_ANY };
	ck_assert_int_eq(rs_store_apply(s, b, &src, 1, &err), 0);
	rs_batch_free(b);
	rs_store_close(s);
}

static void make_store(const char *path, int users) { make_store_named(path, users, "n", 1000); }

static uint64_t count_records(const char *path)
{
	rs_store *s;
	rs_cursor *c;
	rs_error err;
	rs_record r;
	const uint8_t *key;
	size_t key_len;
	uint64_t n = 0;

	ck_assert_int_eq(rs_store_open(&s, path, RS_STORE_RDONLY, &err), 0);
	ck_assert_int_eq(rs_cursor_open(s, &c, &err), 0);
	while (rs_cursor_next(c, &key, &key_len, &r, &err) == 1)
		n++;
	rs_cursor_close(c);
	rs_store_close(s);
	return n;
}

START_TEST(write_read_reduce)
{
	char db[128], paths[3][128], out[128];
	const char *pp[3] = { paths[0], paths[1], paths[2] };
	rs_store *s;
	rs_error err;
	uint64_t records[3] = { 0 };
	rs_part_source ps = { .src = { .bytes = 99, .lines = 7, .name = "in.jsonl" }, .from = 0 };

	snprintf(db, sizeof db, "%s/db", test_dir);
	make_store(db, 200);
	for (int k = 0; k < 3; k++)
		snprintf(paths[k], sizeof paths[k], "%s/part-%d", test_dir, k);
	ck_assert_int_eq(rs_store_open(&s, db, RS_STORE_RDONLY, &err), 0);
	ck_assert_int_eq(rs_part_write_store(s, 3, RS_PART_ALL, 0, pp, &ps, 1, records, &err), 0);
	rs_store_close(s);
	ck_assert_uint_eq(records[0] + records[1] + records[2], 600);
	/* random ids: every partition has some */
	ck_assert_uint_gt(records[0], 100);
	ck_assert_uint_gt(records[2], 100);

	for (int k = 0; k < 3; k++) {
		rs_part *p;
		rs_reduce_counts rc;
		char rdb[128];
		ck_assert_int_eq(rs_part_open(&p, paths[k], &err), 0);
		ck_assert_uint_eq(rs_part_n(p), 3);
		ck_assert_uint_eq(rs_part_k(p), (uint32_t)k);
		ck_assert_uint_eq(rs_part_records(p), records[k]);
		ck_assert_uint_eq(rs_part_nsources(p), 1);
		ck_assert_str_eq(rs_part_source_at(p, 0)->src.name, "in.jsonl");
		ck_assert_uint_eq(rs_part_source_at(p, 0)->src.lines, 7);
		snprintf(rdb, sizeof rdb, "%s/r%d", test_dir, k);
		ck_assert_int_eq(rs_store_open(&s, rdb, RS_STORE_NOSYNC, &err), 0);
		ck_assert_int_eq(rs_store_reduce(s, p, &rc, &err), 0);
		ck_assert_uint_eq(rc.records, records[k]);
		ck_assert_int_eq(rc.already_applied, 0);
		ck_assert_int_eq(rs_store_reduce(s, p, &rc, &err), 0);
		ck_assert_int_eq(rc.already_applied, 1);
		uint32_t n, kk;
		ck_assert_int_eq(rs_store_partition(s, &n, &kk, &err), 0);
		ck_assert_uint_eq(n, 3);
		ck_assert_uint_eq(kk, (uint32_t)k);
		/* one partition written back holds the same */
		snprintf(out, sizeof out, "%s/back-%d", test_dir, k);
		const char *op = out;
		uint64_t back = 0;
		ck_assert_int_eq(rs_part_write_store(s, 3, (uint32_t)k, 0, &op, &ps, 1, &back, &err), 0);
		ck_assert_uint_eq(back, records[k]);
		rs_store_close(s);
		rs_part_close(p);
		ck_assert_uint_eq(count_records(rdb), records[k]);
	}
}
END_TEST

/* Every single byte changed, and every shorter length, is refused. */
START_TEST(damage_is_refused)
{
	char db[128], path[128];
	const char *pp = path;
	rs_store *s;
	rs_error err;
	rs_part *p;
	rs_part_source ps = { .src = { .bytes = 1, .name = "x" } };

	snprintf(db, sizeof db, "%s/db", test_dir);
	make_store(db, 5);
	snprintf(path, sizeof path, "%s/part", test_dir);
	ck_assert_int_eq(rs_store_open(&s, db, RS_STORE_RDONLY, &err), 0);
	ck_assert_int_eq(rs_part_write_store(s, 1, RS_PART_ALL, 0, &pp, &ps, 1, NULL, &err), 0);
	rs_store_close(s);
	FILE *f = fopen(path, "rb");
	uint8_t buf[8192];
	size_t len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	ck_assert_uint_gt(len, 100);
	ck_assert_int_eq(rs_part_open_mem(&p, buf, len, "good", &err), 0);
	rs_part_close(p);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x20;
		int rc = rs_part_open_mem(&p, buf, len, "bad", &err);
		/* the format number is read before the checksum: a file of a
		 * newer layout may have another trailer */
		int want = i >= 8 && i < 12 ? RS_EVERSION : RS_ECORRUPT;
		ck_assert_msg(rc == want, "byte %zu changed: %d", i, rc);
		buf[i] ^= 0x20;
	}
	for (size_t n = 0; n < len; n++)
		ck_assert_int_eq(rs_part_open_mem(&p, buf, n, "short", &err), RS_ECORRUPT);
	/* a newer format is told apart from damage */
	buf[8] = 2;
	ck_assert_int_eq(rs_part_open_mem(&p, buf, len, "newer", &err), RS_EVERSION);
	ck_assert_ptr_nonnull(strstr(err.text, "newer than this rewardstore reads"));
}
END_TEST

/* rs_part_merge of the partition files of two stores (overlapping keys,
 * other names and times) writes the file that a store reducing both
 * writes, byte for byte, for every partition */
START_TEST(merge_is_the_reduce)
{
	char a[128], b[128], both[128], pa[128], pb[128], merged[128], reduced[128];
	rs_part_source ps = { .src = { .bytes = 99, .lines = 7, .name = "in.jsonl" }, .from = 0 };
	rs_error err;

	snprintf(a, sizeof a, "%s/a", test_dir);
	snprintf(b, sizeof b, "%s/b", test_dir);
	snprintf(both, sizeof both, "%s/both", test_dir);
	make_store_named(a, 150, "older", 1000);
	make_store_named(b, 300, "newer", 5000);
	for (uint32_t k = 0; k < 3; k++) {
		const char *op;
		rs_store *s;
		rs_part *in[2], *r;
		rs_part_merge_counts mc;
		rs_reduce_counts rc;

		snprintf(pa, sizeof pa, "%s/a-%u", test_dir, k);
		snprintf(pb, sizeof pb, "%s/b-%u", test_dir, k);
		snprintf(merged, sizeof merged, "%s/m-%u", test_dir, k);
		snprintf(reduced, sizeof reduced, "%s/r-%u", test_dir, k);
		op = pa;
		ck_assert_int_eq(rs_store_open(&s, a, RS_STORE_RDONLY, &err), 0);
		ck_assert_int_eq(rs_part_write_store(s, 3, k, 0, &op, &ps, 1, NULL, &err), 0);
		rs_store_close(s);
		op = pb;
		ck_assert_int_eq(rs_store_open(&s, b, RS_STORE_RDONLY, &err), 0);
		ck_assert_int_eq(rs_part_write_store(s, 3, k, RS_PART_NOSYNC, &op, &ps, 1, NULL, &err), 0);
		rs_store_close(s);

		ck_assert_int_eq(rs_part_open(&in[0], pa, &err), 0);
		ck_assert_int_eq(rs_part_open(&in[1], pb, &err), 0);
		rs_part_merge_opts mo = { .out = merged };
		ck_assert_int_eq(rs_part_merge(in, 2, &mo, &mc, &err), 0);
		ck_assert_uint_eq(mc.observations, rs_part_observations(in[0]) + rs_part_observations(in[1]));
		ck_assert_uint_eq(mc.records, rs_part_records(in[1])); /* b's keys hold a's */
		ck_assert_uint_eq(mc.sources, 1);

		snprintf(both, sizeof both, "%s/both-%u", test_dir, k);
		ck_assert_int_eq(rs_store_open(&s, both, RS_STORE_NOSYNC, &err), 0);
		ck_assert_int_eq(rs_store_reduce(s, in[0], &rc, &err), 0);
		ck_assert_int_eq(rs_store_reduce(s, in[1], &rc, &err), 0);
		op = reduced;
		ck_assert_int_eq(rs_part_write_store(s, 3, k, 0, &op, &ps, 1, NULL, &err), 0);
		rs_store_close(s);
		rs_part_close(in[0]);
		rs_part_close(in[1]);

		ck_assert_int_eq(rs_part_open(&r, merged, &err), 0);
		ck_assert_uint_eq(rs_part_records(r), mc.records);
		rs_part_close(r);
		FILE *f1 = fopen(merged, "rb"), *f2 = fopen(reduced, "rb");
		ck_assert_ptr_nonnull(f1);
		ck_assert_ptr_nonnull(f2);
		int c1, c2;
		long at = 0;
		do {
			c1 = getc(f1);
			c2 = getc(f2);
			ck_assert_msg(c1 == c2, "partition %u: the files differ at byte %ld", k, at);
			at++;
		} while (c1 != EOF);
		fclose(f1);
		fclose(f2);
	}
	/* one merge takes one partition */
	rs_part *in[2];
	snprintf(pa, sizeof pa, "%s/a-0", test_dir);
	snprintf(pb, sizeof pb, "%s/b-1", test_dir);
	ck_assert_int_eq(rs_part_open(&in[0], pa, &err), 0);
	ck_assert_int_eq(rs_part_open(&in[1], pb, &err), 0);
	rs_part_merge_counts mc;
	rs_part_merge_opts mo = { .out = merged };
	ck_assert_int_eq(rs_part_merge(in, 2, &mo, &mc, &err), RS_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.text, "one merge takes one partition"));
	rs_part_close(in[0]);
	rs_part_close(in[1]);
}
END_TEST

/* the checksum is zlib's CRC-32 whichever library computes it */
START_TEST(crc_is_zlibs)
{
	uint8_t buf[4099];
	uint64_t seed = 3;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)test_rand(&seed);
	for (size_t n = 0; n < sizeof buf; n += 1 + n / 3) {
		uint32_t z = (uint32_t)crc32(crc32(0, Z_NULL, 0), buf, (uInt)n);
		ck_assert_uint_eq(rs_crc32(0, buf, n), z);
		/* in two pieces, as a writer computes it */
		ck_assert_uint_eq(rs_crc32(rs_crc32(0, buf, n / 2), buf + n / 2, n - n / 2), z);
	}
}
END_TEST

Suite *part_suite(void)
{
	Suite *s = suite_create("part");
	TCase *tc = tcase_create("part");
	tcase_add_loop_test(tc, part_of_is_contiguous, 0, (int)(sizeof ns / sizeof ns[0]));
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_read_reduce);
	tcase_add_test(tc, damage_is_refused);
	tcase_add_test(tc, merge_is_the_reduce);
	tcase_add_test(tc, crc_is_zlibs);
	suite_add_tcase(s, tc);
	return s;
}
