/* Private: integers in byte buffers.  Little-endian as the store's values
 * and partition files hold them; big-endian where bytes must sort as the
 * numbers do (keys: the history's run numbers, a key's first eight bytes
 * as a number, partition bounds). */
#ifndef RS_BYTES_H
#define RS_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void rs_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t rs_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void rs_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t rs_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Written out whole, so that the compiler makes each one load or store
 * with a byte swap. */
static inline uint64_t rs_get_be64(const uint8_t *p)
{
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
	       (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
	       (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

static inline void rs_put_be64(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)(v >> 56);
	p[1] = (uint8_t)(v >> 48);
	p[2] = (uint8_t)(v >> 40);
	p[3] = (uint8_t)(v >> 32);
	p[4] = (uint8_t)(v >> 24);
	p[5] = (uint8_t)(v >> 16);
	p[6] = (uint8_t)(v >> 8);
	p[7] = (uint8_t)v;
}

/* Two keys compared in place: bytes, then length.  rs_key_cmp is this,
 * and the merges' hot loops inline it: a key is a user id and a short
 * code, which eight bytes at a time compare faster than through a call to
 * memcmp. */
static inline int rs_bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t n = an < bn ? an : bn, i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x = rs_get_be64(a + i), y = rs_get_be64(b + i);
		if (x != y)
			return x < y ? -1 : 1;
	}
	for (; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return (an > bn) - (an < bn);
}

/* Whether two keys are equal: asked of every entry a merge reads, and
 * consecutive keys nearly always differ in their first eight bytes (the
 * user id's). */
static inline int rs_bytes_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return an == bn && rs_bytes_cmp(a, an, b, bn) == 0;
}

#endif
