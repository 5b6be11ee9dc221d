/* libFuzzer target: the CSV dump reader (the first record is the header). */
#include "fuzz_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_dump(RS_DUMP_CSV, 1, data, size);
	return 0;
}
