/* src/text.c */
#include <string.h>

#include <rewardstore/text.h>

#include "suites.h"

static int64_t check(const char *s, size_t n, size_t *bad)
{
	return rs_utf8_check(s, n, bad);
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
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t bad = 99;
		ck_assert_msg(check(cases[i].s, cases[i].n, &bad) == -1, "case %zu accepted", i);
		ck_assert_uint_eq(bad, cases[i].at);
	}
}
END_TEST

Suite *text_suite(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, valid_text);
	tcase_add_test(tc, invalid_text);
	suite_add_tcase(s, tc);
	return s;
}
