/* SHA-1 as FIPS 180-4 (section 6.1) describes it, written for one use: the
 * export names every row without a dump id by a version 5 UUID, one digest
 * a row.  libuuid's uuid_generate_sha1 took about 540 ns a call here, a
 * third of the export's time; this takes about a quarter of that, mostly
 * by keeping the message schedule in sixteen words and the block in the
 * caller's bytes.  SHA-1 is not used for anything that needs it to be
 * collision-resistant: RFC 4122 ids only need it to be SHA-1.  The tests
 * check it against FIPS's examples and against libuuid. */
#include <string.h>

#include "sha1.h"

static inline uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One 64-byte block into the state h (section 6.1.2).  The eighty rounds
 * are written out, the five working variables renamed from round to round
 * instead of moved, so that the compiler keeps them and the sixteen
 * schedule words in registers; W[t] for t >= 16 lives in w[t mod 16]. */
#define F1(b, c, d) (d ^ (b & (c ^ d)))         /* Ch */
#define F2(b, c, d) (b ^ c ^ d)                 /* Parity */
#define F3(b, c, d) ((b & c) | (d & (b | c)))   /* Maj */
#define WX(t) (w[(t) & 15] = rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ \
                                 w[((t) + 2) & 15] ^ w[(t) & 15], 1))
#define R(a, b, c, d, e, f, k, wt) do { \
		e += rol(a, 5) + f(b, c, d) + (k) + (wt); \
		b = rol(b, 30); \
	} while (0)
#define R5(t, f, k, W) do { \
		R(a, b, c, d, e, f, k, W(t)); \
		R(e, a, b, c, d, f, k, W(t + 1)); \
		R(d, e, a, b, c, f, k, W(t + 2)); \
		R(c, d, e, a, b, f, k, W(t + 3)); \
		R(b, c, d, e, a, f, k, W(t + 4)); \
	} while (0)
/* twenty rounds from t >= 20, where every W is computed */
#define R20(t, f, k) do { \
		R5(t, f, k, WX); \
		R5(t + 5, f, k, WX); \
		R5(t + 10, f, k, WX); \
		R5(t + 15, f, k, WX); \
	} while (0)
#define W0(t) w[t]
#define K1 0x5a827999u
#define K2 0x6ed9eba1u
#define K3 0x8f1bbcdcu
#define K4 0xca62c1d6u

static void compress(uint32_t h[5], const uint8_t block[64])
{
	uint32_t w[16];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
	R5(0, F1, K1, W0);
	R5(5, F1, K1, W0);
	R5(10, F1, K1, W0);
	R(a, b, c, d, e, F1, K1, w[15]);
	R(e, a, b, c, d, F1, K1, WX(16));
	R(d, e, a, b, c, F1, K1, WX(17));
	R(c, d, e, a, b, F1, K1, WX(18));
	R(b, c, d, e, a, F1, K1, WX(19));
	R20(20, F2, K2);
	R20(40, F3, K3);
	R20(60, F2, K4);
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void rs_sha1_2(const void *a, size_t an, const void *b, size_t bn,
               uint8_t out[RS_SHA1_LEN])
{
	uint32_t h[5] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u };
	uint8_t block[64];
	size_t used = 0;
	uint64_t bits = (uint64_t)(an + bn) * 8;
	const uint8_t *parts[2] = { a, b };
	size_t lens[2] = { an, bn };

	for (int i = 0; i < 2; i++) {
		const uint8_t *p = parts[i];
		size_t n = lens[i];
		while (n) {
			size_t take = 64 - used < n ? 64 - used : n;
			memcpy(block + used, p, take);
			used += take;
			p += take;
			n -= take;
			if (used == 64) {
				compress(h, block);
				used = 0;
			}
		}
	}
	/* padding (section 5.1.1): a one bit, zeros, the length in bits */
	block[used++] = 0x80;
	if (used > 56) {
		memset(block + used, 0, 64 - used);
		compress(h, block);
		used = 0;
	}
	memset(block + used, 0, 56 - used);
	for (int i = 0; i < 8; i++)
		block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(h, block);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}
