/* UTF-8 validity and character counts. */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <rewardstore/text.h>

#include "cpu.h"
#include "text-private.h"

/* One multi-byte character at u[i] (u[i] >= 0x80), per the table of
 * well-formed sequences in the Unicode standard (section 3.9): returns its
 * length, or 0 when it is not well formed. */
static size_t multibyte(const unsigned char *u, size_t i, size_t n)
{
	unsigned c = u[i];
	size_t left = n - i;

	if (c < 0xc2)
		return 0; /* a continuation byte, or an overlong two-byte form */
	if (c < 0xe0)
		return left >= 2 && (u[i + 1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (left < 3 || (u[i + 1] & 0xc0) != 0x80 || (u[i + 2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && u[i + 1] < 0xa0) ||  /* overlong */
		    (c == 0xed && u[i + 1] >= 0xa0))   /* a surrogate */
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (left < 4 || (u[i + 1] & 0xc0) != 0x80 || (u[i + 2] & 0xc0) != 0x80 ||
		    (u[i + 3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && u[i + 1] < 0x90) ||  /* overlong */
		    (c == 0xf4 && u[i + 1] >= 0x90))   /* above U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

#ifdef RS_HAVE_AVX2_PATHS
#include <immintrin.h>

/* Whole-line validation 32 bytes at a time with AVX2, after the method of
 * Keiser and Lemire ("Validating UTF-8 in less than one instruction per
 * byte", 2021): every error of a two-byte window is a condition on three
 * nibbles -- the high and low nibble of the earlier byte and the high
 * nibble of the later one -- so three 16-entry table lookups, each giving
 * the set of error kinds that nibble allows, ANDed, leave the kinds that
 * happened.  The bits (the tables below are derived from them):
 *   0x01 a lead byte not followed by a continuation byte
 *   0x02 an ASCII byte followed by a continuation byte
 *   0x04 E0 followed by 80..9F (an overlong three-byte form)
 *   0x08 F4..FF followed by 90..BF (above U+10FFFF)
 *   0x10 ED followed by A0..BF (a surrogate)
 *   0x20 C0 or C1 followed by a continuation byte (an overlong two-byte form)
 *   0x40 F0 followed by 80..8F (overlong), or F5..FF followed by 80..8F
 *   0x80 two continuation bytes in a row
 * Two continuation bytes in a row are right exactly where the byte two
 * back is a three- or four-byte lead, or the byte three back a four-byte
 * lead; that is XORed out.  A line that ends inside a character is caught
 * by a last block of spaces after it.  Returns 1 when the line is valid
 * UTF-8 without NUL (setting *ctl), 0 otherwise: the byte-at-a-time path
 * then says where.  check_text.c holds it to the standard's table.  With
 * marks, it also notes where the quotes and backslashes are (see
 * text-private.h): two compares of a block already in a register. */
__attribute__((target("avx2"))) static inline int valid_avx2(const unsigned char *u, size_t n,
                                                             int *ctl, uint32_t *marks)
{
	const __m256i h1_table = _mm256_setr_epi8(
		0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
		(char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x21, 0x01, 0x15, 0x49,
		0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
		(char)0x80, (char)0x80, (char)0x80, (char)0x80, 0x21, 0x01, 0x15, 0x49);
	const __m256i l1_table = _mm256_setr_epi8(
		(char)0xe7, (char)0xa3, (char)0x83, (char)0x83, (char)0x8b, (char)0xcb, (char)0xcb, (char)0xcb,
		(char)0xcb, (char)0xcb, (char)0xcb, (char)0xcb, (char)0xcb, (char)0xdb, (char)0xcb, (char)0xcb,
		(char)0xe7, (char)0xa3, (char)0x83, (char)0x83, (char)0x8b, (char)0xcb, (char)0xcb, (char)0xcb,
		(char)0xcb, (char)0xcb, (char)0xcb, (char)0xcb, (char)0xcb, (char)0xdb, (char)0xcb, (char)0xcb);
	const __m256i h2_table = _mm256_setr_epi8(
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		(char)0xe6, (char)0xae, (char)0xba, (char)0xba, 0x01, 0x01, 0x01, 0x01,
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		(char)0xe6, (char)0xae, (char)0xba, (char)0xba, 0x01, 0x01, 0x01, 0x01);
	const __m256i nib = _mm256_set1_epi8(0x0f), k1f = _mm256_set1_epi8(0x1f);
	const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\');
	/* above these, the last three bytes of a block start a character that
	 * does not end in it: F0.. three from the end, E0.. two, C0.. at the end */
	const __m256i unfinished = _mm256_setr_epi8(
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
		(char)0xef, (char)0xdf, (char)0xbf);
	__m256i prev = _mm256_setzero_si256(), err = _mm256_setzero_si256();
	__m256i low = _mm256_setzero_si256(), nul = _mm256_setzero_si256();
	unsigned char last[32];
	size_t i = 0;

	for (int final = 0; !final;) {
		__m256i v;
		if (i + 32 <= n) {
			v = _mm256_loadu_si256((const __m256i *)(const void *)(u + i));
			i += 32;
		} else {
			/* the rest, then spaces: a character cut off by the end is
			 * a lead byte followed by ASCII */
			memset(last, ' ', sizeof last);
			memcpy(last, u + i, n - i);
			v = _mm256_loadu_si256((const __m256i *)(const void *)last);
			final = 1;
		}
		if (marks)
			*marks++ = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
				_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, bslash)));
		low = _mm256_or_si256(low, _mm256_cmpeq_epi8(_mm256_max_epu8(v, k1f), k1f));
		nul = _mm256_or_si256(nul, _mm256_cmpeq_epi8(v, _mm256_setzero_si256()));
		if (_mm256_movemask_epi8(v) == 0) {
			/* ASCII only (most blocks of a log line): the one error
			 * possible is a character of the block before left
			 * unfinished, a lead byte in its last three places that
			 * needs more bytes than are left */
			err = _mm256_or_si256(err, _mm256_subs_epu8(prev, unfinished));
			prev = v;
			continue;
		}
		/* the bytes one, two and three before each byte */
		__m256i t = _mm256_permute2x128_si256(prev, v, 0x21);
		__m256i p1 = _mm256_alignr_epi8(v, t, 15);
		__m256i p2 = _mm256_alignr_epi8(v, t, 14);
		__m256i p3 = _mm256_alignr_epi8(v, t, 13);
		__m256i e = _mm256_and_si256(
			_mm256_and_si256(
				_mm256_shuffle_epi8(h1_table, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
				_mm256_shuffle_epi8(l1_table, _mm256_and_si256(p1, nib))),
			_mm256_shuffle_epi8(h2_table, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
		/* the high bit set where p2 >= E0 or p3 >= F0 */
		__m256i third = _mm256_subs_epu8(p2, _mm256_set1_epi8(0xe0 - 0x80));
		__m256i fourth = _mm256_subs_epu8(p3, _mm256_set1_epi8(0xf0 - 0x80));
		__m256i must = _mm256_and_si256(_mm256_or_si256(third, fourth),
		                                _mm256_set1_epi8((char)0x80));
		err = _mm256_or_si256(err, _mm256_xor_si256(e, must));
		prev = v;
	}
	if (!_mm256_testz_si256(err, err) || !_mm256_testz_si256(nul, nul))
		return 0;
	*ctl = !_mm256_testz_si256(low, low);
	return 1;
}

#endif

int rs_utf8_validate(const char *s, size_t n, size_t *bad, int *has_control)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	int ctl = 0;

#ifdef RS_HAVE_AVX2_PATHS
	/* the common case: a valid line, checked whole; a bad one is walked
	 * again below to say where */
	if (rs_cpu_avx2() && valid_avx2(u, n, &ctl, NULL)) {
		if (has_control)
			*has_control = ctl;
		return 0;
	}
#endif

	while (i < n) {
#ifdef __SSE2__
		/* sixteen bytes at a time while they are ASCII: the common case */
		const __m128i k1f = _mm_set1_epi8(0x1f), zero = _mm_setzero_si128();
		while (i + 16 <= n) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
			unsigned high = (unsigned)_mm_movemask_epi8(v);
			unsigned low = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, k1f), k1f));
			if (low) {
				ctl = 1;
				unsigned nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
				if (nul && (!high || __builtin_ctz(nul) < __builtin_ctz(high))) {
					i += (size_t)__builtin_ctz(nul);
					goto fail;
				}
			}
			if (high) {
				i += (size_t)__builtin_ctz(high);
				break;
			}
			i += 16;
		}
#endif
		/* a run of multi-byte characters, or the tail */
		while (i < n) {
			unsigned c = u[i];
			if (c < 0x80) {
				if (c < 0x20) {
					if (c == 0)
						goto fail;
					ctl = 1;
				}
				i++;
#ifdef __SSE2__
				if (i + 16 <= n)
					break;
#endif
				continue;
			}
			size_t len = multibyte(u, i, n);
			if (len == 0)
				goto fail;
			i += len;
		}
	}
	if (has_control)
		*has_control = ctl;
	return 0;
fail:
	if (bad)
		*bad = i;
	return -1;
}

/* Without AVX2: the marks sixteen bytes at a time. */
static void mark_quotes(const unsigned char *u, size_t n, uint32_t *marks)
{
	size_t i = 0;

	memset(marks, 0, RS_MARK_WORDS(n) * sizeof *marks);
#ifdef __SSE2__
	const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		uint32_t m = (uint32_t)_mm_movemask_epi8(
			_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)));
		marks[i / 32] |= m << (i % 32);
	}
#endif
	for (; i < n; i++)
		if (u[i] == '"' || u[i] == '\\')
			marks[i / 32] |= (uint32_t)1 << (i % 32);
}

int rs_utf8_validate_marked(const char *s, size_t n, size_t *bad, int *has_control,
                            uint32_t *marks)
{
#ifdef RS_HAVE_AVX2_PATHS
	if (rs_cpu_avx2() && valid_avx2((const unsigned char *)s, n, has_control, marks))
		return 0;
#endif
	if (rs_utf8_validate(s, n, bad, has_control))
		return -1;
	mark_quotes((const unsigned char *)s, n, marks);
	return 0;
}

size_t rs_utf8_chars(const char *s, size_t n)
{
	size_t chars = 0;

	/* every character has exactly one byte that is not 10xxxxxx */
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	return chars;
}
