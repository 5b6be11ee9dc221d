/* libFuzzer target: UUID text, with libuuid as the oracle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include <rewardstore/uuid.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mine[16], theirs[16];
	char text[64], out[36];

	int a = rs_uuid_parse((const char *)data, size, mine);
	if (size < sizeof text && memchr(data, 0, size) == NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
		int b = uuid_parse(text, theirs);
		if ((a == 0) != (b == 0) || (a == 0 && memcmp(mine, theirs, 16) != 0))
			abort();
	}
	if (a == 0) {
		rs_uuid_format(mine, out);
		if (rs_uuid_parse(out, 36, theirs) || memcmp(mine, theirs, 16) != 0)
			abort();
	}
	return 0;
}
