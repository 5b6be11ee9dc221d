/* UUID text and name-based ids.
 *
 * Parsing is ours, not libuuid's uuid_parse: that one costs about 470 ns a
 * call here (it goes through strtoul), and a reward line carries two UUIDs,
 * which alone would spend the import's whole time budget.  This one is a
 * table lookup per digit; the tests check it against uuid_parse.  Name-based
 * ids likewise use our SHA-1 (src/sha1.c), checked against libuuid's. */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <rewardstore/error.h>
#include <rewardstore/uuid.h>

#include "sha1.h"

/* rewardstore's namespace for version 5 ids, chosen once and never to
 * change: a changed namespace would change every generated id. */
const char rs_uuid_namespace_text[] = "6d1d3f2e-8a4b-4c1e-9b7a-52f0c3e4a9d1";

/* one more than the value of a hex digit, 0 for anything else */
#ifndef __SSE2__
static const uint8_t hexval1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};
#endif

/* where each of the 16 bytes starts in the text form */
static const uint8_t byte_pos[RS_UUID_LEN] = {
	0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34
};

#ifdef __SSE2__
/* Sixteen hex digits to eight bytes, or -1 when one is not a hex digit. */
static int hex16(__m128i v, uint8_t out[8])
{
	__m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
	/* signed compares: bytes from 0x80 are negative and fail both */
	__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
	                              _mm_cmpgt_epi8(_mm_set1_epi8('9' + 1), v));
	__m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
	                              _mm_cmpgt_epi8(_mm_set1_epi8('f' + 1), lower));
	if (_mm_movemask_epi8(_mm_or_si128(digit, alpha)) != 0xffff)
		return -1;
	__m128i val = _mm_or_si128(_mm_and_si128(digit, _mm_sub_epi8(v, _mm_set1_epi8('0'))),
	                           _mm_andnot_si128(digit, _mm_sub_epi8(lower, _mm_set1_epi8('a' - 10))));
	/* each 16-bit lane holds a pair, high digit in its low byte */
	__m128i pair = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(val, _mm_set1_epi16(0x00ff)), 4),
	                            _mm_srli_epi16(val, 8));
	_mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(pair, pair));
	return 0;
}
#endif

int rs_uuid_parse(const char *s, size_t n, uint8_t out[RS_UUID_LEN])
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned bad = 0;

	if (n != RS_UUID_TEXT_LEN || u[8] != '-' || u[13] != '-' ||
	    u[18] != '-' || u[23] != '-')
		return RS_EBADLINE;
#ifdef __SSE2__
	/* the 32 digits without the hyphens, sixteen at a time, put together
	 * from overlapping loads of the text: a copy into a buffer read back
	 * sixteen bytes at a time made the processor wait for the pieces'
	 * stores, twice a UUID (the 36 bytes are all read, no more) */
#define LOAD(at) _mm_loadu_si128((const __m128i *)(const void *)(s + (at)))
	const char o = 0, x = -1; /* a byte left out, a byte taken */
	/* digits 0-7 at 0, 9-12 at 8 (one byte on), 14-17 at 12 (two on) */
	__m128i lo = _mm_or_si128(
		_mm_or_si128(_mm_and_si128(LOAD(0), _mm_setr_epi8(x, x, x, x, x, x, x, x,
		                                                  o, o, o, o, o, o, o, o)),
		             _mm_and_si128(LOAD(1), _mm_setr_epi8(o, o, o, o, o, o, o, o,
		                                                  x, x, x, x, o, o, o, o))),
		_mm_and_si128(LOAD(2), _mm_setr_epi8(o, o, o, o, o, o, o, o, o, o, o, o, x, x, x, x)));
	/* 19-22 at 0, 24-35 at 4 */
	__m128i hi = _mm_or_si128(
		_mm_and_si128(LOAD(19), _mm_setr_epi8(x, x, x, x, o, o, o, o, o, o, o, o, o, o, o, o)),
		_mm_and_si128(LOAD(20), _mm_setr_epi8(o, o, o, o, x, x, x, x, x, x, x, x, x, x, x, x)));
#undef LOAD
	bad = (unsigned)(hex16(lo, out) | hex16(hi, out + 8));
#else
	for (int i = 0; i < RS_UUID_LEN; i++) {
		unsigned hi = hexval1[u[byte_pos[i]]];
		unsigned lo = hexval1[u[byte_pos[i] + 1]];
		bad |= !hi | !lo;
		out[i] = (uint8_t)((hi - 1) << 4 | ((lo - 1) & 0x0f));
	}
#endif
	return bad ? RS_EBADLINE : 0;
}

/* the two hex digits of each byte value */
#define HEXD(n) ((char)((n) < 10 ? '0' + (n) : 'a' + (n) - 10))
#define PAIR(i) { HEXD((i) >> 4), HEXD((i) & 15) }
#define PAIR4(i) PAIR(i), PAIR((i) + 1), PAIR((i) + 2), PAIR((i) + 3)
#define PAIR16(i) PAIR4(i), PAIR4((i) + 4), PAIR4((i) + 8), PAIR4((i) + 12)
#define PAIR64(i) PAIR16(i), PAIR16((i) + 16), PAIR16((i) + 32), PAIR16((i) + 48)
static const char hex_pairs[256][2] = { PAIR64(0), PAIR64(64), PAIR64(128), PAIR64(192) };

void rs_uuid_format(const uint8_t u[RS_UUID_LEN], char out[RS_UUID_TEXT_LEN])
{
	for (int i = 0; i < RS_UUID_LEN; i++)
		memcpy(out + byte_pos[i], hex_pairs[u[i]], 2);
	out[8] = out[13] = out[18] = out[23] = '-';
}

/* rs_uuid_namespace_text as bytes (check_uuid.c checks they agree) */
static const uint8_t ns[RS_UUID_LEN] = { 0x6d, 0x1d, 0x3f, 0x2e, 0x8a, 0x4b, 0x4c, 0x1e,
                                         0x9b, 0x7a, 0x52, 0xf0, 0xc3, 0xe4, 0xa9, 0xd1 };

/* RFC 4122 section 4.3: the first 16 bytes of the digest, with the version
 * (5) and the variant (10xx) set. */
static void from_digest(const uint8_t digest[RS_SHA1_LEN], uint8_t out[RS_UUID_LEN])
{
	memcpy(out, digest, RS_UUID_LEN);
	out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

void rs_uuid_record_id(const uint8_t user[RS_UUID_LEN], const char *code,
                       size_t code_len, uint8_t out[RS_UUID_LEN])
{
	uint8_t name[RS_UUID_LEN + 4 * 64], digest[RS_SHA1_LEN];

	/* the code is at most 256 bytes (64 characters), which the readers
	 * enforce */
	if (code_len > sizeof name - RS_UUID_LEN)
		code_len = sizeof name - RS_UUID_LEN;
	memcpy(name, user, RS_UUID_LEN);
	memcpy(name + RS_UUID_LEN, code, code_len);
	/* SHA-1 of the namespace then the name */
	rs_sha1_2(ns, sizeof ns, name, RS_UUID_LEN + code_len, digest);
	from_digest(digest, out);
}

/* namespace, user id and a code of up to this many bytes fit one block
 * with its padding */
#define ONE_BLOCK_CODE (RS_SHA1_SHORT - 2 * RS_UUID_LEN)

void rs_uuid_record_ids(size_t n, const uint8_t *const users[], const char *const codes[],
                        const size_t code_lens[], uint8_t (*out)[RS_UUID_LEN])
{
	uint8_t blocks[8][64], digests[8][RS_SHA1_LEN];
	uint8_t *bp[8];
	size_t idx[8], lens[8], k = 0;

	for (size_t i = 0; i < n; i++) {
		if (code_lens[i] > ONE_BLOCK_CODE) {
			rs_uuid_record_id(users[i], codes[i], code_lens[i], out[i]);
			continue;
		}
		/* the message: namespace, user id, code */
		uint8_t *b = blocks[k];
		memcpy(b, ns, RS_UUID_LEN);
		memcpy(b + RS_UUID_LEN, users[i], RS_UUID_LEN);
		memcpy(b + 2 * RS_UUID_LEN, codes[i], code_lens[i]);
		bp[k] = b;
		lens[k] = 2 * RS_UUID_LEN + code_lens[i];
		idx[k++] = i;
		if (k == 8 || i + 1 == n) {
			if (k == 8 && rs_sha1_short8(bp, lens, digests) == 0) {
				for (size_t j = 0; j < 8; j++)
					from_digest(digests[j], out[idx[j]]);
			} else {
				/* fewer than eight, or no AVX2 */
				for (size_t j = 0; j < k; j++)
					rs_uuid_record_id(users[idx[j]], codes[idx[j]], code_lens[idx[j]],
					                  out[idx[j]]);
			}
			k = 0;
		}
	}
	/* the last few, when the last key was a long one */
	for (size_t j = 0; j < k; j++)
		rs_uuid_record_id(users[idx[j]], codes[idx[j]], code_lens[idx[j]], out[idx[j]]);
}
