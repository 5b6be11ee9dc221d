/* libFuzzer target: the walk over packed entries (rs_packed_next), which
 * reads runs back from their file: a damaged run must give -1, never a
 * read past its end; and what it yields must be inside the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *key, *val;
	size_t key_len, val_len, pos = 0;
	int rc;

	/* a private copy, so that reading past the end is caught */
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	while ((rc = rs_packed_next(copy, size, &pos, &key, &key_len, &val, &val_len)) == 1) {
		if (key < copy || key + key_len > copy + size || val < copy ||
		    val + val_len > copy + size || pos > size)
			abort();
		/* touch every byte handed out */
		volatile uint8_t sink = 0;
		for (size_t i = 0; i < key_len; i++)
			sink ^= key[i];
		for (size_t i = 0; i < val_len; i++)
			sink ^= val[i];
		(void)sink;
	}
	if (rc != 0 && rc != -1)
		abort();
	free(copy);
	return 0;
}
