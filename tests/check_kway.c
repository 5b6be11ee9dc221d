/* src/kway.c: the k-way merge is a sort.  Streams held in memory, read
 * through the merge's callback, for every number of streams from 0 to 70
 * (powers of two, odd counts, more streams than entries), of keys drawn
 * from a few bytes so that keys tie on 8, 16 and 32 bytes, one is a
 * prefix of another, keys are shorter than 8 bytes and longer than 32,
 * and one key is in several streams: the merge gives all the entries
 * sorted by key and, for equal keys, by stream, each value naming its
 * stream and place.  A damaged stream makes it an error. */
#include <stdlib.h>
#include <string.h>

#include <rewardstore/error.h>
#include <rewardstore/record.h>

#include "../src/kway-private.h"
#include "suites.h"

typedef struct tkey {
	uint8_t key[48];
	size_t len;
	uint32_t stream, idx;
	uint8_t val[8];
} tkey;

static int tkey_cmp(const void *x, const void *y)
{
	const tkey *a = x, *b = y;
	int c = rs_key_cmp(a->key, a->len, b->key, b->len);
	if (c)
		return c;
	return a->stream != b->stream ? (a->stream > b->stream) - (a->stream < b->stream)
	                              : (a->idx > b->idx) - (a->idx < b->idx);
}

/* the streams: stream i is all[first[i]] .. all[first[i + 1] - 1] */
typedef struct streams {
	tkey *all;
	size_t *first, *at;
	size_t damaged;      /* this stream says -1 at its end; SIZE_MAX: none */
} streams;

static int stream_next(void *ctx, size_t i, const uint8_t **key, size_t *key_len,
                       const uint8_t **val, size_t *val_len)
{
	streams *st = ctx;
	if (st->at[i] == st->first[i + 1])
		return i == st->damaged ? -1 : 0;
	const tkey *t = &st->all[st->at[i]++];
	*key = t->key;
	*key_len = t->len;
	*val = t->val;
	*val_len = sizeof t->val;
	return 1;
}

START_TEST(the_merge_is_a_sort)
{
	static const uint8_t alphabet[] = { 0x00, 0x01, 0x7f, 0xff };
	uint64_t seed = 11;

	for (size_t k = 0; k <= 70; k++) {
		size_t total = 0, cap = k * 40 + 1;
		tkey *all = calloc(cap, sizeof *all), *want = calloc(cap, sizeof *want);
		size_t *first = calloc(k + 1, sizeof *first), *at = calloc(k + 1, sizeof *at);
		ck_assert(all && want && first && at);
		for (size_t s = 0; s < k; s++) {
			size_t n = test_rand(&seed) % 40;
			first[s] = total;
			for (size_t i = 0; i < n; i++) {
				tkey *t = &all[total++];
				/* a long shared stretch, then a few bytes that differ */
				size_t shared = test_rand(&seed) % 4 == 0 ? 0 : 6 + test_rand(&seed) % 36;
				t->len = shared + test_rand(&seed) % 6;
				if (t->len == 0)
					t->len = 1;
				for (size_t j = 0; j < t->len; j++)
					t->key[j] = j < shared ? 'u' : alphabet[test_rand(&seed) % 4];
				t->stream = (uint32_t)s;
			}
			qsort(all + first[s], n, sizeof *all, tkey_cmp);
			for (size_t i = first[s]; i < total; i++) {
				all[i].idx = (uint32_t)(i - first[s]);
				memcpy(all[i].val, &all[i].stream, 4);
				memcpy(all[i].val + 4, &all[i].idx, 4);
			}
			at[s] = first[s];
		}
		first[k] = total;
		memcpy(want, all, total * sizeof *all);
		qsort(want, total, sizeof *want, tkey_cmp);

		streams st = { all, first, at, SIZE_MAX };
		rs_kway m;
		const uint8_t *key, *val;
		size_t key_len, val_len, which, seen = 0;
		ck_assert_int_eq(rs_kway_open(&m, k, stream_next, &st), 0);
		while (rs_kway_next(&m, &key, &key_len, &val, &val_len, &which) == 1) {
			uint32_t s, idx;
			ck_assert_uint_lt(seen, total);
			memcpy(&s, val, 4);
			memcpy(&idx, val + 4, 4);
			ck_assert_uint_eq(key_len, want[seen].len);
			ck_assert_int_eq(memcmp(key, want[seen].key, key_len), 0);
			ck_assert_uint_eq(s, want[seen].stream);
			ck_assert_uint_eq(which, s);
			ck_assert_uint_eq(idx, want[seen].idx);
			seen++;
		}
		ck_assert_uint_eq(seen, total);
		rs_kway_close(&m);
		free(all);
		free(want);
		free(first);
		free(at);
	}
}
END_TEST

/* A stream that says it is damaged stops the merge with RS_ECORRUPT, not
 * a short read, whatever the others hold. */
START_TEST(a_damaged_stream_is_an_error)
{
	tkey all[4] = { { .key = "a", .len = 1 }, { .key = "c", .len = 1 },
	                { .key = "b", .len = 1 }, { .key = "d", .len = 1 } };
	size_t first[3] = { 0, 2, 4 }, at[2] = { 0, 2 };
	streams st = { all, first, at, 0 };
	rs_kway m;
	const uint8_t *key, *val;
	size_t key_len, val_len, which;
	int rc, n = 0;

	ck_assert_int_eq(rs_kway_open(&m, 2, stream_next, &st), 0);
	while ((rc = rs_kway_next(&m, &key, &key_len, &val, &val_len, &which)) == 1)
		n++;
	ck_assert_int_eq(rc, RS_ECORRUPT);
	/* a, b, c came; stream 0 then said -1 */
	ck_assert_int_eq(n, 3);
	rs_kway_close(&m);
}
END_TEST

Suite *kway_suite(void)
{
	Suite *s = suite_create("kway");
	TCase *tc = tcase_create("kway");
	tcase_add_test(tc, the_merge_is_a_sort);
	tcase_add_test(tc, a_damaged_stream_is_an_error);
	suite_add_tcase(s, tc);
	return s;
}
