/* libFuzzer target: the text COPY dump reader, with and without a header. */
#include "fuzz_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_dump(RS_DUMP_TEXT, 0, data, size);
	run_dump(RS_DUMP_TEXT, 1, data, size);
	return 0;
}
