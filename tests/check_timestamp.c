/* src/timestamp.c */
#include <string.h>
#include <time.h>

#include <rewardstore/error.h>
#include <rewardstore/timestamp.h>

#include "suites.h"
#include "../src/timestamp-private.h"

static int64_t parse_ok(const char *s, int32_t tz)
{
	int64_t us = 0;
	const char *why = NULL;
	int rc = rs_time_parse(s, strlen(s), tz, &us, &why);
	ck_assert_msg(rc == 0, "rejected '%s': %s", s, why);
	return us;
}

static void parse_bad(const char *s, int32_t tz, const char *reason)
{
	int64_t us;
	const char *why = NULL;
	ck_assert_msg(rs_time_parse(s, strlen(s), tz, &us, &why) == RS_EBADLINE,
	              "accepted '%s'", s);
	ck_assert_msg(strstr(why, reason) != NULL, "'%s': reason '%s' lacks '%s'", s, why, reason);
}

static const char *fmt(int64_t us, char *buf)
{
	size_t n = rs_time_format(us, buf);
	buf[n] = '\0';
	return buf;
}

START_TEST(parses_the_seed)
{
	char buf[40];
	/* Python: datetime(2025,12,24,12,10,19,825556,utc) */
	ck_assert_int_eq(parse_ok("2025-12-24T12:10:19.825556Z", RS_TZ_NONE), 1766578219825556LL);
	ck_assert_int_eq(parse_ok("1970-01-01T00:00:00Z", RS_TZ_NONE), 0);
	ck_assert_str_eq(fmt(1766578219825556LL, buf), "2025-12-24 12:10:19.825556+00");
}
END_TEST

START_TEST(forms_postgres_accepts)
{
	int64_t z = parse_ok("2025-12-03T00:15:00Z", RS_TZ_NONE);
	ck_assert_int_eq(parse_ok("2025-12-03t00:15:00z", RS_TZ_NONE), z);
	ck_assert_int_eq(parse_ok("2025-12-03 09:15:00+09", RS_TZ_NONE), z);
	ck_assert_int_eq(parse_ok("2025-12-03 09:15:00+0900", RS_TZ_NONE), z);
	ck_assert_int_eq(parse_ok("2025-12-03T09:15:00+09:00", RS_TZ_NONE), z);
	ck_assert_int_eq(parse_ok("2025-12-02T18:45:00-05:30", RS_TZ_NONE), z);
	ck_assert_int_eq(parse_ok("2025-12-03T00:45:00+00:30", RS_TZ_NONE), z);
	ck_assert_int_eq(parse_ok("2025-12-03T15:14:00+15:59", RS_TZ_NONE), z - 3600000000LL);
	/* a default offset applies only where the text has none */
	ck_assert_int_eq(parse_ok("2025-12-03T09:15:00", 9 * 60), z);
	ck_assert_int_eq(parse_ok("2025-12-03T00:15:00Z", 9 * 60), z);
}
END_TEST

START_TEST(rounds_to_microseconds)
{
	char buf[40];
	int64_t base = parse_ok("2025-01-01T00:00:00Z", RS_TZ_NONE);
	ck_assert_int_eq(parse_ok("2025-01-01T00:00:00.1234565Z", RS_TZ_NONE), base + 123457);
	ck_assert_int_eq(parse_ok("2025-01-01T00:00:00.12345649999Z", RS_TZ_NONE), base + 123456);
	ck_assert_int_eq(parse_ok("2025-01-01T00:00:00.0000005Z", RS_TZ_NONE), base + 1);
	ck_assert_int_eq(parse_ok("2025-01-01T00:00:00.5Z", RS_TZ_NONE), base + 500000);
	/* carrying into the next year */
	ck_assert_str_eq(fmt(parse_ok("2024-12-31T23:59:59.9999995Z", RS_TZ_NONE), buf),
	                 "2025-01-01 00:00:00+00");
}
END_TEST

START_TEST(rejects_impossible)
{
	parse_bad("2025-02-30T00:00:00Z", RS_TZ_NONE, "impossible date");
	parse_bad("2023-02-29T00:00:00Z", RS_TZ_NONE, "impossible date");
	parse_bad("1900-02-29T00:00:00Z", RS_TZ_NONE, "impossible date");
	parse_bad("2025-13-01T00:00:00Z", RS_TZ_NONE, "impossible date");
	parse_bad("2025-00-10T00:00:00Z", RS_TZ_NONE, "impossible date");
	parse_bad("0000-01-01T00:00:00Z", RS_TZ_NONE, "impossible date");
	parse_bad("2025-01-01T24:00:00Z", RS_TZ_NONE, "hour 24");
	parse_bad("2016-12-31T23:59:60Z", RS_TZ_NONE, "second 60");
	parse_bad("2025-01-01T00:60:00Z", RS_TZ_NONE, "impossible time");
	parse_bad("2025-01-01T00:00:00+16:00", RS_TZ_NONE, "offset out of range");
	parse_bad("2025-01-01T00:00:00+09:60", RS_TZ_NONE, "offset out of range");
	parse_bad("2025-01-01T00:00:00+9", RS_TZ_NONE, "offset");
	parse_bad("2025-01-01T00:00:00", RS_TZ_NONE, "no offset");
	parse_bad("2025-01-01T00:00:00.Z", RS_TZ_NONE, "not a timestamp");
	parse_bad("2025-01-01T00:00:00Z ", RS_TZ_NONE, "unexpected text");
	parse_bad("2025-01-01X00:00:00Z", RS_TZ_NONE, "not a timestamp");
	parse_bad("25-01-01T00:00:00Z", RS_TZ_NONE, "not a timestamp");
	parse_bad("2025-1-01T00:00:00Z", RS_TZ_NONE, "not a timestamp");
	parse_bad("", RS_TZ_NONE, "not a timestamp");
	parse_bad("0001-01-01T00:00:00+01:00", RS_TZ_NONE, "out of range");
	ck_assert_int_eq(parse_ok("2024-02-29T00:00:00Z", RS_TZ_NONE) -
	                 parse_ok("2024-02-28T00:00:00Z", RS_TZ_NONE), 86400000000LL);
	ck_assert_int_eq(parse_ok("2000-02-29T00:00:00Z", RS_TZ_NONE) > 0, 1);
}
END_TEST

START_TEST(formats_like_postgres)
{
	char buf[40];
	int64_t t = parse_ok("2025-12-24T12:10:19Z", RS_TZ_NONE);
	ck_assert_str_eq(fmt(t, buf), "2025-12-24 12:10:19+00");
	ck_assert_str_eq(fmt(t + 800000, buf), "2025-12-24 12:10:19.8+00");
	ck_assert_str_eq(fmt(t + 80, buf), "2025-12-24 12:10:19.00008+00");
	ck_assert_str_eq(fmt(-500000, buf), "1969-12-31 23:59:59.5+00");
	ck_assert_str_eq(fmt(RS_TIME_MIN, buf), "0001-01-01 00:00:00+00");
	ck_assert_str_eq(fmt(RS_TIME_MAX, buf), "9999-12-31 23:59:59.999999+00");
}
END_TEST

/* format then parse gives the same instant, over the whole range */
START_TEST(round_trip)
{
	uint64_t seed = 42;
	char buf[40];
	for (int i = 0; i < 200000; i++) {
		uint64_t span = (uint64_t)(RS_TIME_MAX - RS_TIME_MIN);
		int64_t t = RS_TIME_MIN + (int64_t)(test_rand(&seed) % span);
		if (i % 2)
			t -= t % 1000000; /* whole seconds too */
		fmt(t, buf);
		ck_assert_int_eq(parse_ok(buf, RS_TZ_NONE), t);
	}
}
END_TEST

/* The dates come from a table of days (src/timestamp.c): days near each
 * other (hits) and days 1024 apart (the same slot) all read right, as the
 * C library's calendar says. */
START_TEST(dates_from_the_table)
{
	uint64_t seed = 9;
	char buf[40], want[64];
	const int64_t base = 1700000000LL; /* 2023-11-14 */

	for (int i = 0; i < 100000; i++) {
		int64_t secs = base + (int64_t)(test_rand(&seed) % (3 * 366 * 86400ULL));
		if (i % 3 == 0)
			secs = base + (int64_t)(test_rand(&seed) % 64) * 1024 * 86400 -
			       (int64_t)(test_rand(&seed) % 64) * 1024 * 86400;
		time_t tt = (time_t)secs;
		struct tm tm;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S+00", &tm);
		ck_assert_str_eq(fmt(secs * 1000000, buf), want);
	}
}
END_TEST

/* The common shape is read sixteen bytes at a time, everything else a
 * byte at a time: both say the same of every timestamp of that shape, and
 * of every text one byte away from one (each byte replaced by each of the
 * 256, each length cut, a digit added), with and without a default
 * offset. */
static void same_both_ways(const char *s, size_t n, int32_t tz)
{
	int64_t a = 0, b = 0;
	const char *wa = NULL, *wb = NULL;
	int ra = rs_time_parse(s, n, tz, &a, &wa);
	int rb = rs_time_parse_bytewise(s, n, tz, &b, &wb);

	ck_assert_msg(ra == rb, "'%.*s': %d, byte by byte %d", (int)n, s, ra, rb);
	if (ra == 0)
		ck_assert_msg(a == b, "'%.*s': %lld, byte by byte %lld", (int)n, s, (long long)a,
		              (long long)b);
	else
		ck_assert_msg(strcmp(wa, wb) == 0, "'%.*s': '%s', byte by byte '%s'", (int)n, s,
		              wa, wb);
}

START_TEST(common_shape_read_either_way)
{
	static const char *const seeds[] = {
		"2025-03-24T03:05:10.223045+09:00", "2025-02-21 10:55:34.374793+00",
		"2024-02-29t23:59:59.999999Z",      "0001-01-01T00:00:00.000000+00:00",
		"9999-12-31T23:59:59.999999-0330",  "2025-12-03T09:15:00.500000",
		"1970-01-01T00:00:00.000001z",      "2023-02-29T12:00:00.000000+09:00",
	};
	static const int32_t tzs[] = { RS_TZ_NONE, 9 * 60 };
	char buf[64];
	int64_t us;
	const char *why;

	/* the common shape is the one the seeds have: they parse */
	ck_assert_int_eq(rs_time_parse(seeds[0], strlen(seeds[0]), RS_TZ_NONE, &us, &why), 0);
	ck_assert_int_eq(us, parse_ok("2025-03-23T18:05:10.223045Z", RS_TZ_NONE));
	for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
		size_t n = strlen(seeds[k]);
		for (size_t t = 0; t < sizeof tzs / sizeof *tzs; t++) {
			for (size_t len = 0; len <= n; len++)
				same_both_ways(seeds[k], len, tzs[t]);
			memcpy(buf, seeds[k], n);
			for (size_t at = 0; at < 27 && at <= n; at++) {
				/* a digit more where the text is, or at its end */
				memmove(buf + at + 1, seeds[k] + at, n - at);
				buf[at] = '7';
				same_both_ways(buf, n + 1, tzs[t]);
				memcpy(buf, seeds[k], n);
			}
			for (size_t at = 0; at < n; at++) {
				for (int c = 0; c < 256; c++) {
					buf[at] = (char)c;
					same_both_ways(buf, n, tzs[t]);
				}
				buf[at] = seeds[k][at];
			}
		}
	}
}
END_TEST

START_TEST(default_tz_option)
{
	int32_t m;
	ck_assert_int_eq(rs_time_parse_offset("+09:00", &m), 0);
	ck_assert_int_eq(m, 540);
	ck_assert_int_eq(rs_time_parse_offset("-0330", &m), 0);
	ck_assert_int_eq(m, -210);
	ck_assert_int_eq(rs_time_parse_offset("Z", &m), 0);
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(rs_time_parse_offset("9", &m), RS_EUSAGE);
	ck_assert_int_eq(rs_time_parse_offset("+09:00x", &m), RS_EUSAGE);
	ck_assert_int_eq(rs_time_parse_offset("+16", &m), RS_EUSAGE);
}
END_TEST

Suite *timestamp_suite(void)
{
	Suite *s = suite_create("timestamp");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parses_the_seed);
	tcase_add_test(tc, forms_postgres_accepts);
	tcase_add_test(tc, rounds_to_microseconds);
	tcase_add_test(tc, rejects_impossible);
	tcase_add_test(tc, formats_like_postgres);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, dates_from_the_table);
	tcase_add_test(tc, default_tz_option);
	tcase_add_test(tc, common_shape_read_either_way);
	suite_add_tcase(s, tc);
	return s;
}
