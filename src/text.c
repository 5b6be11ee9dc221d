/* UTF-8 validity and character counts. */
#include <string.h>

#include <rewardstore/text.h>

int64_t rs_utf8_check(const char *s, size_t n, size_t *bad)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	int64_t chars = 0;

	while (i < n) {
		/* ASCII runs are most of every log: take eight bytes at once */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, u + i, 8);
			/* stop at a high bit or a zero byte */
			if ((w & 0x8080808080808080ULL) ||
			    ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
				break;
			i += 8;
			chars += 8;
		}
		if (i >= n)
			break;
		unsigned c = u[i];
		size_t len;
		unsigned min;
		if (c == 0)
			goto fail;
		if (c < 0x80) {
			i++;
			chars++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			min = 0x10000;
		} else {
			goto fail;
		}
		if (n - i < len)
			goto fail;
		unsigned cp = c & (0xff >> (len + 1));
		for (size_t k = 1; k < len; k++) {
			unsigned cc = u[i + k];
			if ((cc & 0xc0) != 0x80)
				goto fail;
			cp = cp << 6 | (cc & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto fail;
		i += len;
		chars++;
	}
	return chars;
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
