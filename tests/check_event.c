/* src/event.c: the JSON event reader, doc/CONTRACT.md section 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/event.h>
#include <rewardstore/timestamp.h>

#include "../src/event-private.h"
#include "suites.h"

#define U1 "8b8ec006-2d95-45aa-bdef-e08201f1bb82"
#define C1 "c7df88f5-66af-4d75-bcd4-1825a5692738"
#define T1 "2025-12-02T23:20:20.199493Z"
#define BASE "\"user_id\":\"" U1 "\",\"character_code\":\"char-paepy\",\"acquired_at\":\"" T1 "\""

static rs_event_reader *reader;

static void setup(void)
{
	ck_assert_int_eq(rs_event_reader_new(&reader, RS_TZ_NONE), 0);
}

static void teardown(void)
{
	rs_event_reader_free(reader);
}

static const rs_obs *good_n(const char *line, size_t len, size_t want)
{
	const rs_obs *ev;
	size_t n;
	rs_error err;
	rs_error_clear(&err);
	int rc = rs_event_parse(reader, line, len, &ev, &n, &err);
	ck_assert_msg(rc == 0, "rejected %s: %s", line, err.text);
	ck_assert_uint_eq(n, want);
	return ev;
}

static const rs_obs *good(const char *line)
{
	return good_n(line, strlen(line), 1);
}

static void bad_len(const char *line, size_t len, const char *reason)
{
	const rs_obs *ev;
	size_t n = 99;
	rs_error err;
	rs_error_clear(&err);
	ck_assert_msg(rs_event_parse(reader, line, len, &ev, &n, &err) == RS_EBADLINE,
	              "accepted %s", line);
	ck_assert_uint_eq(n, 0);
	ck_assert_msg(strstr(err.text, reason) != NULL, "%s: reason '%s' lacks '%s'", line,
	              err.text, reason);
}

static void bad(const char *line, const char *reason)
{
	bad_len(line, strlen(line), reason);
}

static int str_is(rs_str s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

START_TEST(flat_event)
{
	const rs_obs *o = good("{" BASE ",\"character_id\":\"" C1 "\",\"character_name\":\"패피\","
	                       "\"character_type\":\"플라스틱, 페트\",\"character_dialog\":\"a\\nb \\\"q\\\"\","
	                       "\"source\":\"scan\",\"status\":\"owned\",\"event_id\":7}");
	ck_assert_uint_eq(o->user_id[0], 0x8b);
	ck_assert(str_is(o->code, "char-paepy"));
	ck_assert_int_eq(o->acquired_at, 1764717620199493LL);
	ck_assert_uint_eq(o->has_character_id, 1);
	ck_assert_uint_eq(o->character_id[0], 0xc7);
	ck_assert(str_is(o->name, "패피"));
	ck_assert(str_is(o->type, "플라스틱, 페트"));
	ck_assert(str_is(o->dialog, "a\nb \"q\""));
	ck_assert(str_is(o->source, "scan"));
	ck_assert(str_is(o->status, "owned"));
	ck_assert_uint_eq(o->has_updated_at, 0);
	ck_assert_uint_eq(o->has_id, 0);
}
END_TEST

START_TEST(missing_means_null_absent_or_empty)
{
	const rs_obs *o = good("{" BASE ",\"character_id\":null,\"character_name\":\"\","
	                       "\"character_type\":null,\"unknown\":{\"x\":[1,2,{\"y\":null}]}}");
	ck_assert_uint_eq(o->has_character_id, 0);
	ck_assert_uint_eq(o->name.n, 0);
	ck_assert_uint_eq(o->type.n, 0);
	ck_assert_uint_eq(o->dialog.n, 0);
	ck_assert_uint_eq(o->character_id[0], 0);
	o = good("{" BASE ",\"character_id\":\"\"}");
	ck_assert_uint_eq(o->has_character_id, 0);
	bad("{\"user_id\":\"" U1 "\",\"character_code\":\"\",\"acquired_at\":\"" T1 "\"}",
	    "missing \"character_code\"");
	bad("{\"user_id\":null,\"character_code\":\"c\",\"acquired_at\":\"" T1 "\"}",
	    "missing \"user_id\"");
	bad("{\"user_id\":\"" U1 "\",\"character_code\":\"c\"}", "missing \"acquired_at\"");
}
END_TEST

START_TEST(batch_line)
{
	const char *line =
		"{\"user_id\":\"" U1 "\",\"source\":\"event\",\"acquired_at\":\"" T1 "\","
		"\"characters\":[{\"character_code\":\"a\",\"character_name\":\"A\"},"
		"{\"character_code\":\"b\",\"source\":\"own\",\"acquired_at\":\"2025-01-01T00:00:00+09:00\","
		"\"user_id\":\"c7df88f5-66af-4d75-bcd4-1825a5692738\"},"
		"{\"character_code\":\"c\",\"source\":\"\"}]}";
	const rs_obs *ev = good_n(line, strlen(line), 3);
	ck_assert(str_is(ev[0].code, "a"));
	ck_assert(str_is(ev[0].source, "event"));
	ck_assert_uint_eq(ev[0].user_id[0], 0x8b);
	ck_assert_int_eq(ev[0].acquired_at, 1764717620199493LL);
	ck_assert(str_is(ev[1].source, "own"));
	ck_assert_uint_eq(ev[1].user_id[0], 0xc7);
	ck_assert_int_eq(ev[1].acquired_at, 1735657200000000LL);
	ck_assert(str_is(ev[2].source, "event")); /* "" is missing: the batch's applies */
	const char *empty = "{\"user_id\":\"" U1 "\",\"characters\":[]}";
	good_n(empty, strlen(empty), 0);
}
END_TEST

START_TEST(batch_line_is_all_or_nothing)
{
	bad("{\"user_id\":\"" U1 "\",\"acquired_at\":\"" T1 "\",\"characters\":"
	    "[{\"character_code\":\"a\"},{\"character_code\":\"b\",\"acquired_at\":\"2025-02-30T00:00:00Z\"}]}",
	    "\"characters\"[1]: \"acquired_at\": impossible date");
	bad("{\"user_id\":\"" U1 "\",\"characters\":{}}", "\"characters\" is not an array");
	bad("{\"user_id\":\"" U1 "\",\"characters\":[1]}", "\"characters\"[0]: not an object");
	bad("{\"user_id\":\"" U1 "\",\"acquired_at\":\"" T1 "\",\"characters\":"
	    "[{\"character_code\":\"a\",\"x\":1,\"x\":2}]}", "\"characters\"[0]: duplicate key");
}
END_TEST

START_TEST(malformed_json)
{
	static const struct { const char *line, *reason; } cases[] = {
		{ "{" BASE ",}", "malformed JSON" },                         /* trailing comma */
		{ "{" BASE ",\"a\":[1,2,]}", "malformed JSON" },
		{ "{" BASE ",\"a\" 1}", "malformed JSON" },                    /* missing colon */
		{ "{" BASE " \"a\":1}", "expected ','" },                    /* missing comma */
		{ "{" BASE ",\"a\":[1 2]}", "expected ','" },
		{ "{" BASE ",,\"a\":1}", "malformed JSON" },
		{ "{" BASE ",\"a\"::1}", "malformed JSON" },
		{ "{" BASE ",\"a\":1:2}", "malformed JSON" },
		{ "{" BASE ",\"a\":'x'}", "malformed JSON" },                /* single quotes */
		{ "{" BASE ",\"a\":NaN}", "malformed JSON" },
		{ "{" BASE ",\"a\":tru}", "not a number, true, false or null" },
		{ "{" BASE ",\"a\":01}", "not a number" },
		{ "{" BASE ",\"a\":1.}", "not a number" },
		{ "{" BASE ",\"a\":-}", "not a number" },
		{ "{" BASE ",\"a\":1e}", "not a number" },
		{ "{" BASE ",\"a\":+1}", "malformed JSON" },
		{ "{" BASE "} // comment", "malformed JSON" },
		{ "{" BASE ",\"a\":\"x\ty\"}", "control character" },       /* raw tab in a string */
		{ "{" BASE, "truncated JSON" },
		{ "{" BASE ",\"a\":\"abc", "truncated JSON" },
		{ "{" BASE "}x", "malformed JSON" },                        /* trailing garbage */
		{ "{" BASE "}{}", "unexpected text after the JSON object" },
		{ "{" BASE "} 1", "unexpected text after the JSON object" },
		{ "[1,2]", "not a JSON object" },
		{ "\"just a string\"", "not a JSON object" },
		{ "42", "not a JSON object" },
		{ "{" BASE ",\"a\":\"\\x\"}", "malformed JSON" },            /* bad escape */
		{ "{" BASE ",\"a\":\"\\u12\"}", "malformed JSON" },
		{ "{" BASE ",\"a\":{\"k\"}}", "malformed JSON" },
		{ "{" BASE ",1:2}", "malformed JSON" },
		{ "{" BASE ",\"a\":]", "malformed JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		bad(cases[i].line, cases[i].reason);
	/* and what strict JSON allows */
	good("{" BASE ",\"a\":[1,-2.5e+3,0.0,true,false,null,{},[],\"\\u00e9\\/\"], \"b\" : { } }");
	good(" \t{" BASE "} \t");
}
END_TEST

/* The flat line's fast path (scan_flat) against jsmn and the grammar
 * check: every line below, and every line made from one of them by
 * deleting, doubling or replacing one byte, gives the same answer either
 * way -- the same observations, or the same message at the same offset. */
static void same_both_ways(rs_event_reader *fast, rs_event_reader *slow, const char *line,
                           size_t len)
{
	const rs_obs *ef, *es;
	size_t nf = 0, ns = 0;
	rs_error errf, errs;
	rs_error_clear(&errf);
	rs_error_clear(&errs);
	int rf = rs_event_parse(fast, line, len, &ef, &nf, &errf);
	int rsl = rs_event_parse(slow, line, len, &es, &ns, &errs);
	ck_assert_msg(rf == rsl, "%.*s: %d fast, %d through jsmn", (int)len, line, rf, rsl);
	if (rf) {
		ck_assert_str_eq(errf.text, errs.text);
		ck_assert_uint_eq(errf.offset, errs.offset);
		return;
	}
	ck_assert_uint_eq(nf, ns);
	for (size_t i = 0; i < nf; i++)
		ck_assert_msg(rs_obs_same(&ef[i], &es[i]), "%.*s: observation %zu differs",
		              (int)len, line, i);
}

START_TEST(fast_path_is_jsmn)
{
	static const char *lines[] = {
		"{" BASE "}",
		"{" BASE ",\"character_id\":\"" C1 "\",\"character_name\":\"\\ucce8\\ud53c\","
		"\"character_dialog\":\"a \\\"quoted\\\" \\\\ line\\nnext\\/\\b\\f\\r\\t\","
		"\"source\":null,\"status\":\"\"}",
		" { \"user_id\" : \"" U1 "\" ,\t\"character_code\":\"c\", \"acquired_at\":\"" T1
		"\" , \"n\":-1.5e3,\"t\":true,\"f\":false } ",
		"{" BASE ",\"character_name\":\"\\ud83d\\ude00\",\"x\":\"\\ud800\"}",
		"{" BASE ",\"character_name\":\"\xea\xb0\x80\xea\xb0\x81 long enough to span "
		"more than sixteen bytes \\\" and more\"}",
		"{" BASE ",\"character_code\":\"again\"}",
		"{" BASE ",\"characters\":[{\"character_code\":\"x\"}]}",
		"{" BASE ",\"a\":{\"b\":[1,2]}}",
		/* a line the fast path starts and gives up on after a known key */
		"{\"user_id\":\"" U1 "\",\"a\":{\"b\":1},\"character_code\":\"c\",\"acquired_at\":\"" T1 "\"}",
		"{\"user_id\":\"" U1 "\",\"character_code\":\"c\",\"acquired_at\":\"" T1 "\",\"e\":0}",
	};
	rs_event_reader *slow;
	ck_assert_int_eq(rs_event_reader_new(&slow, RS_TZ_NONE), 0);
	rs_event_reader_set_fast(slow, 0);
	static const char swaps[] = { '"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\t', 'u',
	                              '0', 'n', '\x01', '\x80' };
	char buf[1024];
	size_t checked = 0;
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		const char *l = lines[i];
		size_t len = strlen(l);
		ck_assert_uint_lt(len + 1, sizeof buf);
		same_both_ways(reader, slow, l, len);
		for (size_t at = 0; at < len; at++) {
			/* delete the byte at `at`, double it, put each of swaps there */
			memcpy(buf, l, at);
			memcpy(buf + at, l + at + 1, len - at - 1);
			same_both_ways(reader, slow, buf, len - 1);
			memcpy(buf, l, at + 1);
			memcpy(buf + at + 1, l + at, len - at);
			same_both_ways(reader, slow, buf, len + 1);
			memcpy(buf, l, len);
			for (size_t k = 0; k < sizeof swaps; k++) {
				buf[at] = swaps[k];
				same_both_ways(reader, slow, buf, len);
			}
			checked += 2 + sizeof swaps;
		}
	}
	ck_assert_uint_gt(checked, 5000);
	/* and the fast path did read lines, the slow reader none */
	ck_assert_uint_gt(rs_event_reader_fast_lines(reader), checked / 4);
	ck_assert_uint_eq(rs_event_reader_fast_lines(slow), 0);
	rs_event_reader_free(slow);
}
END_TEST

START_TEST(fast_path_takes_flat_lines_only)
{
	static const struct { const char *line; int fast; } cases[] = {
		{ "{" BASE "}", 1 },
		{ " {" BASE ", \"source\" : null } ", 1 },
		{ "{" BASE ",\"n\":12,\"b\":false}", 1 },
		{ "{" BASE ",\"character_dialog\":\"\\\"hi\\\"\\n\\u00e9\"}", 1 },
		{ "{" BASE ",\"characters\":[]}", 0 },        /* nested: jsmn's */
		{ "{" BASE ",\"a\":{}}", 0 },
		{ "{" BASE ",\"a\":\"x\ty\"}", 0 },            /* a control byte */
		{ "{" BASE ",}", 0 },                          /* bad lines are jsmn's */
		{ "{" BASE ",\"a\":01}", 0 },
		{ "{" BASE "} x", 0 },
		{ "{}", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const rs_obs *ev;
		size_t n;
		rs_error err;
		uint64_t before = rs_event_reader_fast_lines(reader);
		rs_event_parse(reader, cases[i].line, strlen(cases[i].line), &ev, &n, &err);
		ck_assert_msg(rs_event_reader_fast_lines(reader) - before == (uint64_t)cases[i].fast,
		              "%s: fast path %s", cases[i].line, cases[i].fast ? "not taken" : "taken");
	}
}
END_TEST

START_TEST(wrong_types)
{
	bad("{" BASE ",\"character_name\":5}", "\"character_name\" is not a string");
	bad("{" BASE ",\"character_id\":[\"" C1 "\"]}", "\"character_id\" is not a string");
	bad("{\"user_id\":1,\"character_code\":\"c\",\"acquired_at\":\"" T1 "\"}",
	    "\"user_id\" is not a string");
	bad("{" BASE ",\"status\":true}", "\"status\" is not a string");
	/* event_id may be anything */
	good("{" BASE ",\"event_id\":{\"a\":[1]}}");
	good("{" BASE ",\"event_id\":null}");
}
END_TEST

START_TEST(invalid_values)
{
	bad("{\"user_id\":\"8b8ec006-2d95-45aa-bdef-e08201f1bb8\",\"character_code\":\"c\","
	    "\"acquired_at\":\"" T1 "\"}", "\"user_id\" is not a UUID");
	bad("{" BASE ",\"character_id\":\"not-a-uuid\"}", "\"character_id\" is not a UUID");
	bad("{\"user_id\":\"" U1 "\",\"character_code\":\"c\",\"acquired_at\":\"2025-02-30T00:00:00Z\"}",
	    "\"acquired_at\": impossible date");
	bad("{\"user_id\":\"" U1 "\",\"character_code\":\"c\",\"acquired_at\":\"2025-01-01T00:00:00\"}",
	    "no offset");
	bad("{\"user_id\":\"" U1 "\",\"character_code\":\"c\",\"acquired_at\":12}",
	    "\"acquired_at\" is not a string");
}
END_TEST

static char *repeat(const char *unit, int times)
{
	size_t n = strlen(unit);
	char *s = malloc(n * (size_t)times + 1);
	for (int i = 0; i < times; i++)
		memcpy(s + n * (size_t)i, unit, n);
	s[n * (size_t)times] = '\0';
	return s;
}

/* Limits count characters, as varchar(n) does: a Korean character is three
 * bytes but one character. */
START_TEST(length_limits_in_characters)
{
	static const struct { const char *field; int max; } limits[] = {
		{ "character_code", 64 }, { "character_name", 120 }, { "character_type", 64 },
		{ "character_dialog", 500 }, { "source", 120 }, { "status", 20 },
	};
	char line[8192], reason[64];

	for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		for (int extra = 0; extra <= 1; extra++) {
			char *v = repeat("패", limits[i].max + extra);
			if (strcmp(limits[i].field, "character_code") == 0)
				snprintf(line, sizeof line, "{\"user_id\":\"" U1 "\",\"character_code\":\"%s\","
				         "\"acquired_at\":\"" T1 "\"}", v);
			else
				snprintf(line, sizeof line, "{" BASE ",\"%s\":\"%s\"}", limits[i].field, v);
			if (extra) {
				snprintf(reason, sizeof reason, "\"%s\" is longer than %d characters",
				         limits[i].field, limits[i].max);
				bad(line, reason);
			} else {
				good(line);
			}
			free(v);
		}
	}
	/* an escape counts as the one character it stands for */
	char *v = repeat("\\u00e9", 20);
	snprintf(line, sizeof line, "{" BASE ",\"status\":\"%s\"}", v);
	good(line);
	free(v);
}
END_TEST

START_TEST(text_that_postgres_cannot_hold)
{
	static const char nul_line[] = "{" BASE ",\"source\":\"a\0b\"}";
	bad_len(nul_line, sizeof nul_line - 1, "NUL byte");
	bad("{" BASE ",\"source\":\"a\\u0000b\"}", "\\u0000");
	bad("{" BASE ",\"character_name\":\"\\ud800\"}", "lone surrogate");
	bad("{" BASE ",\"character_name\":\"\\udc00x\"}", "lone surrogate");
	bad("{" BASE ",\"character_name\":\"\\ud800\\u0041\"}", "lone surrogate");
	bad("{" BASE ",\"character_name\":\"\xc0\x80\"}", "invalid UTF-8");
	bad("{" BASE ",\"character_name\":\"\xed\xa0\x80\"}", "invalid UTF-8");
	bad("{" BASE ",\"other\":\"\xff\"}", "invalid UTF-8");
	/* in unknown fields, only JSON validity counts */
	good("{" BASE ",\"other\":\"\\ud800 \\u0000\"}");
	const rs_obs *o = good("{" BASE ",\"character_name\":\"\\ud83c\\udf31\"}");
	ck_assert(str_is(o->name, "\xf0\x9f\x8c\xb1"));
}
END_TEST

START_TEST(duplicate_keys)
{
	bad("{" BASE ",\"character_name\":\"a\",\"character_name\":\"a\"}",
	    "duplicate key \"character_name\"");
	bad("{" BASE ",\"x\":1,\"y\":2,\"x\":3}", "duplicate key");
	/* an escaped key is the same key */
	bad("{" BASE ",\"user\\u005fid\":\"" U1 "\"}", "duplicate key \"user_id\"");
	/* nested objects are unknown values: duplicates there are valid JSON */
	good("{" BASE ",\"x\":{\"a\":1,\"a\":2}}");
	/* many unknown keys take the sorted path */
	char line[4096];
	int n = snprintf(line, sizeof line, "{" BASE);
	for (int i = 0; i < 40; i++)
		n += snprintf(line + n, sizeof line - (size_t)n, ",\"k%d\":%d", i, i);
	snprintf(line + n, sizeof line - (size_t)n, "}");
	good(line);
	line[n] = '\0';
	snprintf(line + n, sizeof line - (size_t)n, ",\"k17\":0}");
	bad(line, "duplicate key");
}
END_TEST

/* found by fuzzing: a duplicated unknown key holding an escape was
 * reported at an offset outside the line */
START_TEST(duplicate_escaped_key_offset)
{
	const char *line = "{" BASE ",\"a\\rb\":1,\"a\\rb\":2}";
	const rs_obs *ev;
	size_t n;
	rs_error err;
	ck_assert_int_eq(rs_event_parse(reader, line, strlen(line), &ev, &n, &err), RS_EBADLINE);
	ck_assert_str_eq(err.text, "duplicate key");
	ck_assert_uint_eq(err.offset, (size_t)(strrchr(line, ',') - line) + 1);
}
END_TEST

/* A batch line's defaults are decoded again for each element, so decoded
 * text can outgrow the line: a long escaped source and many small elements. */
START_TEST(batch_defaults_decoded_per_element)
{
	size_t cap = 1 << 20, n = 0;
	char *line = malloc(cap);
	n += (size_t)snprintf(line + n, cap - n, "{\"user_id\":\"" U1 "\",\"acquired_at\":\"" T1 "\",\"source\":\"");
	for (int i = 0; i < 120; i++)
		n += (size_t)snprintf(line + n, cap - n, "\\ud83c\\udf31");
	n += (size_t)snprintf(line + n, cap - n, "\",\"characters\":[");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(line + n, cap - n, "%s{\"character_code\":\"c%d\"}", i ? "," : "", i);
	n += (size_t)snprintf(line + n, cap - n, "]}");
	const rs_obs *ev = good_n(line, n, 2000);
	ck_assert_uint_eq(ev[1999].source.n, 480);
	ck_assert_int_eq(memcmp(ev[1999].source.p, "\xf0\x9f\x8c\xb1", 4), 0);
	free(line);
}
END_TEST

START_TEST(deep_nesting_is_bounded)
{
	char *open = repeat("[", 1000), *close = repeat("]", 1000);
	size_t n = strlen(BASE) + 2000 + 16;
	char *line = malloc(n);
	snprintf(line, n, "{" BASE ",\"x\":%s%s}", open, close);
	good(line);
	free(open);
	free(close);
	open = repeat("[", 5000);
	close = repeat("]", 5000);
	line = realloc(line, n + 8000);
	snprintf(line, n + 8000, "{" BASE ",\"x\":%s%s}", open, close);
	bad(line, "nested too deeply");
	free(open);
	free(close);
	free(line);
}
END_TEST

START_TEST(default_offset)
{
	rs_event_reader *r9;
	const rs_obs *ev;
	size_t n;
	rs_error err;
	const char *line = "{\"user_id\":\"" U1 "\",\"character_code\":\"c\","
	                   "\"acquired_at\":\"2025-01-01 09:00:00\"}";
	ck_assert_int_eq(rs_event_reader_new(&r9, 9 * 60), 0);
	ck_assert_int_eq(rs_event_parse(r9, line, strlen(line), &ev, &n, &err), 0);
	ck_assert_int_eq(ev[0].acquired_at, 1735689600000000LL);
	rs_event_reader_free(r9);
}
END_TEST

Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, flat_event);
	tcase_add_test(tc, missing_means_null_absent_or_empty);
	tcase_add_test(tc, batch_line);
	tcase_add_test(tc, batch_line_is_all_or_nothing);
	tcase_add_test(tc, malformed_json);
	tcase_add_test(tc, fast_path_is_jsmn);
	tcase_add_test(tc, fast_path_takes_flat_lines_only);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, invalid_values);
	tcase_add_test(tc, length_limits_in_characters);
	tcase_add_test(tc, text_that_postgres_cannot_hold);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, deep_nesting_is_bounded);
	tcase_add_test(tc, duplicate_escaped_key_offset);
	tcase_add_test(tc, batch_defaults_decoded_per_element);
	tcase_add_test(tc, default_offset);
	suite_add_tcase(s, tc);
	return s;
}
