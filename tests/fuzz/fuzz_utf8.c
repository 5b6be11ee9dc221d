/* libFuzzer target: the UTF-8 validator's fast path against a plain
 * byte-at-a-time decoder written from the standard's definition. */
#include <stdint.h>
#include <stdlib.h>

#include <rewardstore/text.h>

/* offset of the first bad byte, or size */
static size_t reference(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t c = s[i], cp, min;
		size_t len;
		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
		else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
		else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
		else return i;
		if (n - i < len)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t bad = (size_t)-1;
	int ctl;
	int rc = rs_utf8_validate((const char *)data, size, &bad, &ctl);
	size_t want = reference(data, size);
	if ((rc == 0) != (want == size) || (rc != 0 && bad != want))
		abort();
	return 0;
}
