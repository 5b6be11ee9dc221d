/* Private: non-cryptographic hashes for fingerprints and hash tables. */
#ifndef RS_HASH_H
#define RS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of p[0..n) with a seed. */
uint64_t rs_hash64(const void *p, size_t n, uint64_t seed);

/* CRC-32 as zlib's crc32() computes it (start with 0); partition files'
 * checksums. */
uint32_t rs_crc32(uint32_t crc, const void *p, size_t n);

#endif
