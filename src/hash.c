/* A word-at-a-time multiply-xor hash: fast, well mixed, not cryptographic.
 * Fingerprints use two seeds for 128 bits. */
#include <string.h>

#include "hash.h"

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t rs_hash64(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = mix(seed ^ (n * 0x9e3779b97f4a7c15ULL));
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ mix(w)) * 0x9e3779b97f4a7c15ULL;
		h = h << 31 | h >> 33;
	}
	uint64_t tail = 0;
	memcpy(&tail, s + i, n - i);
	return mix(h ^ mix(tail ^ (uint64_t)(n - i)));
}
