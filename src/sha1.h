/* Private: SHA-1 (FIPS 180-4), for name-based (version 5) UUIDs only. */
#ifndef RS_SHA1_H
#define RS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define RS_SHA1_LEN 20

/* The digest of a[0..an) followed by b[0..bn): a namespace and a name. */
void rs_sha1_2(const void *a, size_t an, const void *b, size_t bn,
               uint8_t out[RS_SHA1_LEN]);

/* Largest message rs_sha1_short8 takes: it and its padding fill one block. */
#define RS_SHA1_SHORT 55

/* The digests of eight messages of at most RS_SHA1_SHORT bytes, each at
 * the start of a 64-byte buffer that this pads (section 5.1.1), computed
 * side by side in the eight 32-bit lanes of AVX2 registers.  Returns 0, or
 * -1 when the processor has no AVX2 (then nothing is touched). */
int rs_sha1_short8(uint8_t *const blocks[8], const size_t lens[8], uint8_t out[8][RS_SHA1_LEN]);

#endif
