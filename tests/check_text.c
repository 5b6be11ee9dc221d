/* src/text.c */
#include <string.h>

#include <rewardstore/text.h>

#include "../src/text-private.h"
#include "suites.h"

/* the number of characters, or -1 */
static int64_t check(const char *s, size_t n, size_t *bad)
{
	int ctl;
	if (rs_utf8_validate(s, n, bad, &ctl))
		return -1;
	return (int64_t)rs_utf8_chars(s, n);
}

START_TEST(valid_text)
{
	size_t bad;
	ck_assert_int_eq(check("plain ascii text, long enough for words", 39, &bad), 39);
	ck_assert_int_eq(check("패피", strlen("패피"), &bad), 2);
	ck_assert_int_eq(check("\xf0\x9f\x8c\xb1 ok", 7, &bad), 4);      /* U+1F331 */
	ck_assert_int_eq(check("\xf4\x8f\xbf\xbf", 4, &bad), 1);         /* U+10FFFF */
	ck_assert_int_eq(check("\xed\x9f\xbf", 3, &bad), 1);             /* U+D7FF */
	ck_assert_int_eq(check("", 0, &bad), 0);
	ck_assert_uint_eq(rs_utf8_chars("a패b", strlen("a패b")), 3);
	int ctl = -1;
	const char *plain = "a long line of plain text, no controls";
	const char *tab = "a long line of plain text,\twith a tab";
	ck_assert_int_eq(rs_utf8_validate(plain, strlen(plain), &bad, &ctl), 0);
	ck_assert_int_eq(ctl, 0);
	ck_assert_int_eq(rs_utf8_validate(tab, strlen(tab), &bad, &ctl), 0);
	ck_assert_int_eq(ctl, 1);
	ck_assert_int_eq(rs_utf8_validate("\t", 1, &bad, &ctl), 0);
	ck_assert_int_eq(ctl, 1);
}
END_TEST

START_TEST(invalid_text)
{
	static const struct { const char *s; size_t n, at; } cases[] = {
		{ "ab\xc0\x80", 4, 2 },               /* overlong NUL */
		{ "\xe0\x80\x80", 3, 0 },             /* overlong */
		{ "\xf0\x80\x80\x80", 4, 0 },         /* overlong */
		{ "x\xed\xa0\x80", 4, 1 },            /* surrogate U+D800 */
		{ "\xf4\x90\x80\x80", 4, 0 },         /* above U+10FFFF */
		{ "\xe2\x82", 2, 0 },                 /* truncated */
		{ "abcdefgh\x80", 9, 8 },             /* lone continuation after a fast run */
		{ "abc\0def", 7, 3 },                 /* NUL */
		{ "\xff", 1, 0 },
		{ "\xc3\x28", 2, 0 },
		/* past the sixteen-byte fast path */
		{ "0123456789abcdef0123456789\0x", 28, 26 },
		{ "0123456789abcdef012345\xc0\xafyyyyyyyyyyyyyyyy", 40, 22 },
		{ "0123456789abcdef\xed\xa0\x80", 19, 16 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t bad = 99;
		ck_assert_msg(check(cases[i].s, cases[i].n, &bad) == -1, "case %zu accepted", i);
		ck_assert_uint_eq(bad, cases[i].at);
	}
}
END_TEST

/* The fast path and the byte-at-a-time path agree, on random mixes of
 * ASCII, multi-byte characters and bad bytes at every alignment. */
START_TEST(fast_path_agrees_with_slow_path)
{
	static const char *const pieces[] = { "a", "0123456789abcdef", "패", "\xf0\x9f\x8c\xb1",
	                                      "\xc2\x80", "\x80", "\xe0\x80\x80", "\t", "\0",
	                                      "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3(" };
	static const size_t lens[] = { 1, 16, 3, 4, 2, 1, 3, 1, 1, 3, 4, 2 };
	static const int ok[] = { 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0 };
	uint64_t seed = 99;
	char buf[256];

	for (int round = 0; round < 50000; round++) {
		size_t n = 0, first_bad = (size_t)-1;
		int want_ctl = 0;
		while (n < 200) {
			size_t k = (size_t)(test_rand(&seed) % 12);
			if (test_rand(&seed) % 8 != 0 && !ok[k])
				k = 0; /* mostly good text */
			memcpy(buf + n, pieces[k], lens[k]);
			if (!ok[k] && first_bad == (size_t)-1)
				first_bad = n;
			if (k == 7 && first_bad == (size_t)-1)
				want_ctl = 1;
			n += lens[k];
		}
		size_t bad = (size_t)-1;
		int ctl = -1;
		int rc = rs_utf8_validate(buf, n, &bad, &ctl);
		if (first_bad == (size_t)-1) {
			ck_assert_int_eq(rc, 0);
			ck_assert_int_eq(ctl, want_ctl);
		} else {
			ck_assert_int_eq(rc, -1);
			ck_assert_uint_eq(bad, first_bad);
		}
	}
}
END_TEST

/* A reference straight from the Unicode standard's table of well-formed
 * byte sequences (table 3-7): the offset of the first character that is
 * not well formed (or a NUL), or -1; *ctl as rs_utf8_validate says. */
static long reference_validate(const unsigned char *u, size_t n, int *ctl)
{
	size_t i = 0;

	*ctl = 0;
	while (i < n) {
		unsigned c = u[i];
		size_t len;
		unsigned lo = 0x80, hi = 0xbf; /* the second byte's range */
		if (c == 0)
			return (long)i;
		if (c < 0x80) {
			*ctl |= c < 0x20;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return (long)i;
		if (n - i < len || u[i + 1] < lo || u[i + 1] > hi)
			return (long)i;
		for (size_t k = 2; k < len; k++)
			if (u[i + k] < 0x80 || u[i + k] > 0xbf)
				return (long)i;
		i += len;
	}
	return -1;
}

static void agree(const unsigned char *u, size_t n)
{
	int want_ctl, ctl = -1;
	size_t bad = (size_t)-1;
	long want = reference_validate(u, n, &want_ctl);
	int rc = rs_utf8_validate((const char *)u, n, &bad, &ctl);

	if (want < 0) {
		ck_assert_msg(rc == 0, "rejected a valid text of %zu bytes (at %zu)", n, bad);
		ck_assert_int_eq(ctl, want_ctl);
	} else {
		ck_assert_msg(rc == -1, "accepted a bad text of %zu bytes (bad at %ld)", n, want);
		ck_assert_uint_eq(bad, (size_t)want);
	}
}

/* Every pair of bytes whose first is from 0x80, followed by each boundary
 * value of the ranges, and every lead byte followed by three boundary
 * values, at every place around the 16- and 32-byte blocks the fast paths
 * read, against the reference. */
START_TEST(agrees_with_the_standard)
{
	static const unsigned char edge[] = { 0x00, 0x09, 0x20, 0x41, 0x7f, 0x80, 0x8f, 0x90,
	                                      0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
	                                      0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff };
	const size_t ne = sizeof edge;
	unsigned char buf[80];

	for (unsigned b0 = 0x80; b0 < 0x100; b0++)
		for (unsigned b1 = 0; b1 < 0x100; b1++)
			for (size_t x = 0; x < ne; x++) {
				size_t at = (b0 + b1 + x) % 37, tail = x % 3;
				memset(buf, 'a', sizeof buf);
				buf[at] = (unsigned char)b0;
				buf[at + 1] = (unsigned char)b1;
				buf[at + 2] = edge[x];
				agree(buf, at + 3 + tail);
			}
	for (unsigned b0 = 0xc0; b0 < 0x100; b0++)
		for (size_t x = 0; x < ne * ne * ne; x++) {
			size_t at = (b0 + x) % 41, tail = x % 2;
			memset(buf, 'a', sizeof buf);
			buf[at] = (unsigned char)b0;
			buf[at + 1] = edge[x % ne];
			buf[at + 2] = edge[x / ne % ne];
			buf[at + 3] = edge[x / ne / ne];
			agree(buf, at + 4 + tail);
		}
}
END_TEST

/* The marks of quotes and backslashes that the validation makes for the
 * JSON fast path: set exactly at those bytes, clear past the end, for every
 * length around the blocks, on the path this processor takes (tools/test-all
 * runs the unit tests again with REWARDSTORE_NO_AVX2 for the other). */
START_TEST(marks_are_the_quotes_and_backslashes)
{
	char line[200];
	uint32_t marks[RS_MARK_WORDS(sizeof line)];
	unsigned seed = 7;

	for (size_t n = 0; n <= sizeof line; n++)
		for (int round = 0; round < 8; round++) {
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				static const char pick[] = "ab\"\\ {}:,\xea\xb0\x80";
				unsigned k = seed >> 16 & 15;
				if (k >= 9 && i + 3 <= n) { /* a three-byte character */
					memcpy(line + i, "\xea\xb0\x80", 3);
					i += 2;
					continue;
				}
				line[i] = pick[k % 9];
			}
			memset(marks, 0xff, sizeof marks);
			size_t bad;
			int ctl;
			ck_assert_int_eq(rs_utf8_validate_marked(line, n, &bad, &ctl, marks), 0);
			for (size_t i = 0; i < 32 * RS_MARK_WORDS(n); i++) {
				int want = i < n && (line[i] == '"' || line[i] == '\\');
				ck_assert_msg(!!(marks[i / 32] >> (i % 32) & 1) == want,
				              "length %zu, byte %zu: mark %d", n, i, !want);
			}
		}
}
END_TEST

Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, valid_text);
	tcase_add_test(tc, invalid_text);
	tcase_add_test(tc, fast_path_agrees_with_slow_path);
	tcase_add_test(tc, marks_are_the_quotes_and_backslashes);
	suite_add_tcase(s, tc);
	/* about 1.4 million texts: seconds under the sanitizers */
	TCase *wide = tcase_create("wide");
	tcase_set_timeout(wide, 60);
	tcase_add_test(wide, agrees_with_the_standard);
	suite_add_tcase(s, wide);
	return s;
}
