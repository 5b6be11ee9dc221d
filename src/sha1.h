/* Private: SHA-1 (FIPS 180-4), for name-based (version 5) UUIDs only. */
#ifndef RS_SHA1_H
#define RS_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define RS_SHA1_LEN 20

/* The digest of a[0..an) followed by b[0..bn): a namespace and a name. */
void rs_sha1_2(const void *a, size_t an, const void *b, size_t bn,
               uint8_t out[RS_SHA1_LEN]);

/* The digests of eight messages of at most 55 bytes each, padded by the
 * caller into single 64-byte blocks (section 5.1.1), computed side by side
 * in the eight 32-bit lanes of AVX2 registers.  Returns 0, or -1 when the
 * processor has no AVX2 (then nothing is written). */
int rs_sha1_blocks8(const uint8_t *const blocks[8], uint8_t out[8][RS_SHA1_LEN]);

#endif
