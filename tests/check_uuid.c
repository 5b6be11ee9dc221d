/* src/uuid.c */
#include <stdio.h>
#include <string.h>

#include <uuid/uuid.h>

#include <rewardstore/error.h>
#include <rewardstore/uuid.h>

#include "suites.h"
#include "../src/sha1.h"

START_TEST(parse_and_format)
{
	uint8_t u[16];
	char out[37] = { 0 };

	ck_assert_int_eq(rs_uuid_parse("8B8EC006-2d95-45AA-bdef-E08201F1BB82", 36, u), 0);
	ck_assert_uint_eq(u[0], 0x8b);
	ck_assert_uint_eq(u[15], 0x82);
	rs_uuid_format(u, out);
	ck_assert_str_eq(out, "8b8ec006-2d95-45aa-bdef-e08201f1bb82");
}
END_TEST

START_TEST(rejects_malformed)
{
	static const char *bad[] = {
		"8b8ec006-2d95-45aa-bdef-e08201f1bb8",     /* 35 */
		"8b8ec006-2d95-45aa-bdef-e08201f1bb821",   /* 37 */
		"8b8ec0062d95-45aa-bdef-e08201f1bb82-",    /* hyphen moved */
		"8b8ec006-2d95-45aa-bdef-e08201f1bg82",    /* g */
		"{8b8ec006-2d95-45aa-bdef-e08201f1bb8}",
		"8b8ec006 2d95 45aa bdef e08201f1bb82",
		"",
	};
	uint8_t u[16];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(rs_uuid_parse(bad[i], strlen(bad[i]), u) == RS_EBADLINE,
		              "accepted '%s'", bad[i]);
}
END_TEST

/* libuuid is the oracle: on random 36-character strings, mostly valid and
 * some with one character changed, both parsers agree. */
START_TEST(agrees_with_libuuid)
{
	static const char alphabet[] = "0123456789abcdefABCDEF-g {";
	uint64_t seed = 0x5eed;
	int valid = 0;

	for (int i = 0; i < 20000; i++) {
		uint8_t src[16], mine[16], theirs[16];
		char text[37];
		for (int k = 0; k < 16; k++)
			src[k] = (uint8_t)test_rand(&seed);
		rs_uuid_format(src, text);
		text[36] = '\0';
		if (test_rand(&seed) % 2)
			for (int k = 0; k < 36; k++)
				if (text[k] >= 'a' && test_rand(&seed) % 2)
					text[k] = (char)(text[k] - 32);
		if (test_rand(&seed) % 3 == 0)
			text[test_rand(&seed) % 36] = alphabet[test_rand(&seed) % (sizeof alphabet - 1)];
		int a = rs_uuid_parse(text, 36, mine);
		int b = uuid_parse(text, theirs);
		ck_assert_msg((a == 0) == (b == 0), "disagree on '%s'", text);
		if (a == 0) {
			ck_assert_mem_eq(mine, theirs, 16);
			valid++;
		}
	}
	ck_assert_int_gt(valid, 10000);
}
END_TEST

/* Every byte value at every digit's place: accepted exactly when it is a
 * hex digit, and then read as its value. */
START_TEST(every_byte_at_every_digit)
{
	static const char base[] = "00000000-0000-0000-0000-000000000000";
	static const uint8_t pos[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17,
	                                 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32,
	                                 33, 34, 35 };
	char text[37];
	uint8_t u[16];

	for (int d = 0; d < 32; d++)
		for (int c = 0; c < 256; c++) {
			memcpy(text, base, sizeof text);
			text[pos[d]] = (char)c;
			int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
			int rc = rs_uuid_parse(text, 36, u);
			ck_assert_msg((rc == 0) == hex, "byte 0x%02x at digit %d", c, d);
			if (hex) {
				unsigned v = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
				ck_assert_uint_eq(u[d / 2], d % 2 ? v : v << 4);
			}
		}
}
END_TEST

/* Computed independently (Python: sha1(namespace + user bytes + code),
 * version and variant bits set as RFC 4122 says). */
START_TEST(record_id_is_name_based)
{
	uint8_t user[16], id[16], again[16], other[16];
	char text[37] = { 0 };

	rs_uuid_parse("8b8ec006-2d95-45aa-bdef-e08201f1bb82", 36, user);
	rs_uuid_record_id(user, "char-paepy", 10, id);
	rs_uuid_format(id, text);
	ck_assert_str_eq(text, "72d4d39b-77d4-5a90-9d5f-1265a34f5d62");
	rs_uuid_record_id(user, "char-paepy", 10, again);
	ck_assert_mem_eq(id, again, 16);
	rs_uuid_record_id(user, "char-petty", 10, other);
	ck_assert_int_ne(memcmp(id, other, 16), 0);
	ck_assert_uint_eq(id[6] >> 4, 5);
	/* the namespace the code uses as bytes is the documented text */
	uint8_t ns[16];
	ck_assert_int_eq(rs_uuid_parse(rs_uuid_namespace_text, 36, ns), 0);
	ck_assert_uint_eq(ns[0], 0x6d);
	ck_assert_uint_eq(ns[15], 0xd1);
	ck_assert_uint_eq(id[8] >> 6, 2);
}
END_TEST

static void hex20(const uint8_t d[RS_SHA1_LEN], char out[41])
{
	for (int i = 0; i < RS_SHA1_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The examples of FIPS 180 (and the empty message), with the message cut
 * between the two parts at every place. */
START_TEST(sha1_known_digests)
{
	static const struct {
		const char *msg, *hex;
	} known[] = {
		{ "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
	};
	uint8_t d[RS_SHA1_LEN];
	char hex[41];

	for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
		size_t n = strlen(known[k].msg);
		for (size_t cut = 0; cut <= n; cut++) {
			rs_sha1_2(known[k].msg, cut, known[k].msg + cut, n - cut, d);
			hex20(d, hex);
			ck_assert_msg(strcmp(hex, known[k].hex) == 0, "\"%s\" cut at %zu: %s",
			              known[k].msg, cut, hex);
		}
	}
}
END_TEST

/* The same ids as libuuid's uuid_generate_sha1, for codes of every length
 * a code may have (so messages of one to five blocks, and every padding
 * case). */
START_TEST(record_id_agrees_with_libuuid)
{
	uint64_t seed = 7;
	uuid_t ns;
	uint8_t user[16], mine[16], theirs[16], name[16 + 256];
	char code[256];

	ck_assert_int_eq(uuid_parse(rs_uuid_namespace_text, ns), 0);
	for (size_t len = 1; len <= sizeof code; len++) {
		for (int i = 0; i < 16; i++)
			user[i] = (uint8_t)test_rand(&seed);
		for (size_t i = 0; i < len; i++)
			code[i] = (char)(1 + test_rand(&seed) % 255);
		rs_uuid_record_id(user, code, len, mine);
		memcpy(name, user, 16);
		memcpy(name + 16, code, len);
		uuid_generate_sha1(theirs, ns, (const char *)name, 16 + len);
		ck_assert_msg(memcmp(mine, theirs, 16) == 0, "code of %zu bytes", len);
	}
}
END_TEST

/* Many ids at once (eight short keys side by side where AVX2 is there)
 * are the ids one at a time, for batches of every size with short and
 * long codes mixed. */
START_TEST(record_ids_agree_with_one_at_a_time)
{
	uint64_t seed = 11;
	static uint8_t users[64][16], ids[64][16], want[16];
	static char codes[64][80];
	const uint8_t *up[64];
	const char *cp[64];
	size_t lens[64];

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(test_rand(&seed) % 64);
		for (size_t i = 0; i < n; i++) {
			for (int k = 0; k < 16; k++)
				users[i][k] = (uint8_t)test_rand(&seed);
			/* around the one-block limit of 23 bytes, mostly under it */
			lens[i] = 1 + (size_t)(test_rand(&seed) % (test_rand(&seed) % 4 ? 24 : 80));
			for (size_t k = 0; k < lens[i]; k++)
				codes[i][k] = (char)('a' + test_rand(&seed) % 26);
			up[i] = users[i];
			cp[i] = codes[i];
		}
		rs_uuid_record_ids(n, up, cp, lens, ids);
		for (size_t i = 0; i < n; i++) {
			rs_uuid_record_id(users[i], codes[i], lens[i], want);
			ck_assert_msg(memcmp(ids[i], want, 16) == 0, "round %d, key %zu of %zu (%zu bytes)",
			              round, i, n, lens[i]);
		}
	}
}
END_TEST

Suite *uuid_suite(void)
{
	Suite *s = suite_create("uuid");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parse_and_format);
	tcase_add_test(tc, rejects_malformed);
	tcase_add_test(tc, agrees_with_libuuid);
	tcase_add_test(tc, record_id_is_name_based);
	tcase_add_test(tc, every_byte_at_every_digit);
	tcase_add_test(tc, sha1_known_digests);
	tcase_add_test(tc, record_id_agrees_with_libuuid);
	tcase_add_test(tc, record_ids_agree_with_one_at_a_time);
	suite_add_tcase(s, tc);
	return s;
}
