/* libFuzzer target: the record decoder, which parses what the store holds
 * (a damaged store must give an error, never a crash or an overread), and
 * decode/encode round trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/error.h>
#include <rewardstore/record.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rs_record r, back;

	/* a private copy, so that reading past the end is caught */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	int rc = rs_record_decode(&r, copy, size);
	if (rc == 0) {
		uint8_t *buf = malloc(rs_record_encoded_max(&r));
		size_t n = rs_record_encode(&r, buf);
		if (rs_record_decode(&back, buf, n) || !rs_record_same(&r, &back))
			abort();
		free(buf);
	} else if (rc != RS_ECORRUPT && rc != RS_EVERSION) {
		abort();
	}
	free(copy);
	return 0;
}
