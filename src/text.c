/* UTF-8 validity and character counts. */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <rewardstore/text.h>

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

int rs_utf8_validate(const char *s, size_t n, size_t *bad, int *has_control)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	int ctl = 0;

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

size_t rs_utf8_chars(const char *s, size_t n)
{
	size_t chars = 0;

	/* every character has exactly one byte that is not 10xxxxxx */
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	return chars;
}
