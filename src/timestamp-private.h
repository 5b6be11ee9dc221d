/* The timestamp reader's reference for its tests (src/timestamp.c): not
 * part of the library's interface. */
#ifndef REWARDSTORE_TIMESTAMP_PRIVATE_H
#define REWARDSTORE_TIMESTAMP_PRIVATE_H
#include <stddef.h>
#include <stdint.h>

/* rs_time_parse reading every timestamp a byte at a time, as it reads
 * those not of the common shape; the tests hold the two to one answer. */
int rs_time_parse_bytewise(const char *s, size_t n, int32_t default_offset_min, int64_t *us,
                           const char **why);
#endif
