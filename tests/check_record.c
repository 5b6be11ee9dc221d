/* src/record.c: keys and the binary encoding. */
#include <stdlib.h>
#include <string.h>

#include <rewardstore/error.h>
#include <rewardstore/record.h>

#include "suites.h"

static void random_record(rs_record *r, uint64_t *seed, char *pool)
{
	memset(r, 0, sizeof *r);
	r->acquired_min = (int64_t)(test_rand(seed) % 2000000000000000ULL) - 60000000000000LL;
	r->t_max = r->acquired_min + (int64_t)(test_rand(seed) % 1000000000);
	r->n_obs = test_rand(seed) % 100000;
	r->n_dump = test_rand(seed) % 3;
	r->multi_cid = test_rand(seed) & 1;
	rs_idfield *ids[] = { &r->cid_newest, &r->cid_oldest, &r->id };
	for (int i = 0; i < 3; i++)
		if (test_rand(seed) & 1) {
			ids[i]->has = 1;
			ids[i]->t = r->acquired_min + (int64_t)(test_rand(seed) % 1000);
			memset(ids[i]->v, (int)test_rand(seed), 16);
		}
	rs_field *fs[] = { &r->name, &r->type, &r->dialog, &r->status, &r->source };
	for (int i = 0; i < 5; i++)
		if (test_rand(seed) & 1) {
			fs[i]->t = r->acquired_min + (int64_t)(test_rand(seed) % 1000);
			fs[i]->v.p = pool + test_rand(seed) % 100;
			fs[i]->v.n = 1 + (uint32_t)(test_rand(seed) % 400);
		}
}

START_TEST(encode_decode_round_trip)
{
	uint64_t seed = 7;
	char pool[600];
	uint8_t buf[4096];

	for (size_t i = 0; i < sizeof pool; i++)
		pool[i] = (char)('a' + i % 26);
	for (int i = 0; i < 20000; i++) {
		rs_record r, back;
		random_record(&r, &seed, pool);
		size_t n = rs_record_encode(&r, buf);
		ck_assert_uint_le(n, rs_record_encoded_max(&r));
		ck_assert_int_eq(rs_record_decode(&back, buf, n), 0);
		ck_assert(rs_record_same(&r, &back));
		ck_assert_uint_eq(back.n_obs, r.n_obs);
		ck_assert_uint_eq(back.n_dump, r.n_dump);
	}
}
END_TEST

/* A damaged value is an error, never a crash or a wrong read: every prefix
 * of a valid encoding, and every single-byte change of its header. */
START_TEST(damaged_values)
{
	uint64_t seed = 11;
	char pool[600] = { 'x' };
	uint8_t buf[4096];
	rs_record r, back;

	memset(pool, 'x', sizeof pool);
	random_record(&r, &seed, pool);
	r.name = (rs_field){ r.t_max, { pool, 5 } };
	size_t n = rs_record_encode(&r, buf);
	for (size_t k = 0; k < n; k++)
		ck_assert_int_ne(rs_record_decode(&back, buf, k), 0);
	uint8_t *copy = malloc(n + 1);
	memcpy(copy, buf, n);
	copy[n] = 0;
	ck_assert_int_eq(rs_record_decode(&back, copy, n + 1), RS_ECORRUPT); /* trailing byte */
	copy[0] = 2;
	ck_assert_int_eq(rs_record_decode(&back, copy, n), RS_EVERSION);
	copy[0] = 0;
	ck_assert_int_eq(rs_record_decode(&back, copy, n), RS_ECORRUPT);
	free(copy);
}
END_TEST

/* found by fuzzing: time deltas that overflow, or leave the range a store
 * can hold, are damage, not arithmetic */
START_TEST(times_out_of_range)
{
	rs_record r, back;
	uint8_t buf[256];

	memset(&r, 0, sizeof r);
	r.acquired_min = r.t_max = 0;
	size_t n = rs_record_encode(&r, buf);
	ck_assert_int_eq(rs_record_decode(&back, buf, n), 0);
	/* t_max - acquired_min as zigzag varint: huge */
	uint8_t bad[32];
	memcpy(bad, buf, n);
	size_t at = n - 1; /* the last byte is the delta 0 */
	uint8_t huge[10] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	memcpy(bad + at, huge, sizeof huge);
	ck_assert_int_eq(rs_record_decode(&back, bad, at + sizeof huge), RS_ECORRUPT);
	/* acquired_min itself out of range */
	memcpy(bad, buf, n);
	for (int i = 5; i < 13; i++)
		bad[i] = 0x7f;
	ck_assert_int_eq(rs_record_decode(&back, bad, n), RS_ECORRUPT);
}
END_TEST

START_TEST(small_records)
{
	rs_record r;
	uint8_t buf[256];

	memset(&r, 0, sizeof r);
	r.acquired_min = r.t_max = 1766578219825556LL;
	r.cid_newest = (rs_idfield){ r.t_max, { 1 }, 1 };
	r.cid_oldest = (rs_idfield){ r.t_max, { 1 }, 1 };
	r.name = (rs_field){ r.t_max, { "패피", 6 } };
	r.n_obs = 1;
	/* times equal to t_max or acquired_min cost one byte each */
	ck_assert_uint_le(rs_record_encode(&r, buf), 3 + 2 + 8 + 1 + 2 * 17 + 1 + 1 + 6);
}
END_TEST

START_TEST(key_order_is_export_order)
{
	uint8_t a[RS_KEY_MAX], b[RS_KEY_MAX], u1[16] = { 1 }, u2[16] = { 2 };
	size_t na, nb;

	na = rs_key_make(a, u1, "zz", 2);
	nb = rs_key_make(b, u2, "aa", 2);
	ck_assert_int_lt(rs_key_cmp(a, na, b, nb), 0); /* user first */
	na = rs_key_make(a, u1, "char", 4);
	nb = rs_key_make(b, u1, "char-a", 6);
	ck_assert_int_lt(rs_key_cmp(a, na, b, nb), 0); /* a prefix sorts first */
	na = rs_key_make(a, u1, "B", 1);
	nb = rs_key_make(b, u1, "a", 1);
	ck_assert_int_lt(rs_key_cmp(a, na, b, nb), 0); /* bytes, no case folding */
	ck_assert_int_eq(rs_key_cmp(a, na, a, na), 0);
}
END_TEST

/* Change marks: encoded last, added to an unmarked encoding by appending,
 * never part of the lattice value; same_row looks at values, not times. */
START_TEST(marks)
{
	uint64_t seed = 11;
	char pool[600];
	uint8_t buf[4096], marked[4096 + 10];

	for (size_t i = 0; i < sizeof pool; i++)
		pool[i] = (char)('a' + i % 26);
	for (int i = 0; i < 2000; i++) {
		rs_record r, back, again;
		random_record(&r, &seed, pool);
		size_t n = rs_record_encode(&r, buf);
		ck_assert(!rs_record_raw_marked(buf, n));
		uint64_t mark = 1 + test_rand(&seed) % (i % 2 ? 100 : UINT64_MAX - 1);
		size_t m = rs_record_add_mark(buf, n, mark, marked);
		ck_assert_uint_eq(rs_record_marked_size(n, mark), m);
		ck_assert(rs_record_raw_marked(marked, m));
		ck_assert_int_eq(rs_record_decode(&back, marked, m), 0);
		ck_assert_uint_eq(back.mark, mark);
		ck_assert(rs_record_same(&r, &back));
		ck_assert(rs_record_same_row(&r, &back));
		/* encoding the decoded record gives the same bytes */
		ck_assert_uint_eq(rs_record_encode(&back, buf), m);
		ck_assert_mem_eq(buf, marked, m);
		ck_assert_int_eq(rs_record_decode(&again, buf, m), 0);
		ck_assert_uint_eq(again.mark, mark);
		/* a different value in one column is a different row; a
		 * different time that chose it is not */
		back.name.t += 5;
		ck_assert(rs_record_same_row(&r, &back));
		back.t_max++;
		ck_assert(!rs_record_same_row(&r, &back));
	}
	/* a mark of 0 is not written, and one encoded as 0 is damage */
	rs_record z;
	random_record(&z, &seed, pool);
	size_t n = rs_record_encode(&z, buf);
	buf[2] |= 2;
	buf[n] = 0;
	ck_assert_int_eq(rs_record_decode(&z, buf, n + 1), RS_ECORRUPT);
}
END_TEST

Suite *record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, encode_decode_round_trip);
	tcase_add_test(tc, damaged_values);
	tcase_add_test(tc, small_records);
	tcase_add_test(tc, times_out_of_range);
	tcase_add_test(tc, key_order_is_export_order);
	tcase_add_test(tc, marks);
	suite_add_tcase(s, tc);
	return s;
}
