/* libFuzzer target: timestamps.  Whatever parses lies in range, and its
 * PostgreSQL form parses back to the same instant; and the common shape's
 * reading says what the byte-by-byte one says of every input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/error.h>
#include <rewardstore/timestamp.h>

#include "../../src/timestamp-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t us, back;
	const char *why;
	char out[RS_TIME_TEXT_MAX];

	int32_t tz = size % 3 ? RS_TZ_NONE : -330;
	int rc = rs_time_parse((const char *)data, size, tz, &us, &why);
	int64_t ref;
	const char *ref_why;
	if (rs_time_parse_bytewise((const char *)data, size, tz, &ref, &ref_why) != rc ||
	    (rc == 0 ? ref != us : strcmp(ref_why, why) != 0))
		abort();
	if (rc == 0) {
		if (us < RS_TIME_MIN || us > RS_TIME_MAX)
			abort();
		size_t n = rs_time_format(us, out);
		if (rs_time_parse(out, n, RS_TZ_NONE, &back, &why) || back != us)
			abort();
	} else if (rc != RS_EBADLINE || why == NULL) {
		abort();
	}
	return 0;
}
