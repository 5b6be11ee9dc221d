/* src/batch.c */
#include <stdio.h>
#include <string.h>

#include <rewardstore/batch.h>

#include "suites.h"

static rs_obs obs(uint8_t user, const char *code, int64_t t, rs_str name)
{
	rs_obs o;
	memset(&o, 0, sizeof o);
	memset(o.user_id, user, 16);
	o.code = (rs_str){ code, (uint32_t)strlen(code) };
	o.acquired_at = t;
	o.name = name;
	return o;
}

/* Sorted, the entries come in strictly increasing key order. */
static void assert_sorts(rs_batch *b)
{
	const uint8_t *pk = NULL, *key;
	size_t pn = 0, n;
	const rs_record *r;

	rs_batch_sort(b);
	for (size_t i = 0; i < rs_batch_count(b); i++) {
		rs_batch_entry(b, i, &key, &n, &r);
		if (pk)
			ck_assert_int_lt(rs_key_cmp(pk, pn, key, n), 0);
		pk = key;
		pn = n;
	}
}

START_TEST(folds_per_key_and_owns_strings)
{
	rs_batch *b;
	char name[16];
	const uint8_t *key;
	size_t key_len;
	const rs_record *r;

	ck_assert_int_eq(rs_batch_new(&b, 4, 0), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "name-%03d", i);
		rs_obs o = obs(1, "char-a", i, (rs_str){ name, 8 });
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
	}
	/* the caller's buffer is gone: the batch kept its own copy */
	memset(name, 'X', sizeof name);
	ck_assert_uint_eq(rs_batch_count(b), 1);
	ck_assert_uint_eq(rs_batch_observations(b), 100);
	rs_batch_sort(b);
	rs_batch_entry(b, 0, &key, &key_len, &r);
	ck_assert_uint_eq(key_len, 16 + 6);
	ck_assert_uint_eq(r->n_obs, 100);
	ck_assert_int_eq(r->acquired_min, 0);
	ck_assert_int_eq(r->t_max, 99);
	ck_assert_int_eq(memcmp(r->name.v.p, "name-099", 8), 0);
	rs_batch_free(b);
}
END_TEST

START_TEST(grows_past_the_soft_limit_and_sorts)
{
	rs_batch *b;
	char codes[3000][8];

	ck_assert_int_eq(rs_batch_new(&b, 16, 0), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(codes[i], sizeof codes[i], "c%05d", (i * 7919) % 3000);
		rs_obs o = obs((uint8_t)(i % 5), codes[i], i, (rs_str){ "n", 1 });
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
		if (i == 15)
			ck_assert(rs_batch_full(b));
	}
	ck_assert_uint_eq(rs_batch_count(b), 3000);
	assert_sorts(b);
	rs_batch_clear(b);
	ck_assert_uint_eq(rs_batch_count(b), 0);
	ck_assert(!rs_batch_full(b));
	rs_batch_free(b);
}
END_TEST

START_TEST(byte_budget_makes_it_full)
{
	rs_batch *b;
	static char big[400];

	memset(big, 'd', sizeof big);
	ck_assert_int_eq(rs_batch_new(&b, 1000, 4096), 0);
	int i = 0;
	while (!rs_batch_full(b)) {
		char code[16];
		snprintf(code, sizeof code, "c%d", i);
		rs_obs o = obs(9, code, i, (rs_str){ big, sizeof big });
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
		i++;
	}
	ck_assert_int_le(i, 11);
	rs_batch_free(b);
}
END_TEST

/* Keys that tie on their first four bytes, a few or hundreds of them, and
 * one user with many codes, come out in key order. */
START_TEST(sorts_ties_of_the_radix)
{
	rs_batch *b;
	static char codes[5000][8];
	uint64_t seed = 3;

	ck_assert_int_eq(rs_batch_new(&b, 8192, 0), 0);
	for (int i = 0; i < 5000; i++) {
		rs_obs o = obs(0, codes[i], i, (rs_str){ "n", 1 });
		snprintf(codes[i], sizeof codes[i], "c%05d", (int)(test_rand(&seed) % 100000));
		o.code = (rs_str){ codes[i], 6 };
		if (i % 3) {
			/* users sharing bytes 0..3 with a few others (sorted by
			 * insertion) or with hundreds (by qsort), differing after */
			for (int k = 4; k < 16; k++)
				o.user_id[k] = (uint8_t)test_rand(&seed);
			o.user_id[0] = (uint8_t)(i % 3 == 1 ? test_rand(&seed) % 200
			                                    : 200 + test_rand(&seed) % 4);
		} /* else: all one user */
		ck_assert_int_eq(rs_batch_add_obs(b, &o), 0);
	}
	assert_sorts(b);
	ck_assert_uint_gt(rs_batch_count(b), 4000);
	rs_batch_free(b);
}
END_TEST

Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, folds_per_key_and_owns_strings);
	tcase_add_test(tc, grows_past_the_soft_limit_and_sorts);
	tcase_add_test(tc, sorts_ties_of_the_radix);
	tcase_add_test(tc, byte_budget_makes_it_full);
	suite_add_tcase(s, tc);
	return s;
}
