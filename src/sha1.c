/* SHA-1 as FIPS 180-4 (section 6.1) describes it, written for one use: the
 * export names every row without a dump id by a version 5 UUID, one digest
 * a row.  libuuid's uuid_generate_sha1 took about 540 ns a call here, a
 * third of the export's time; this takes about a quarter of that, mostly
 * by keeping the message schedule in sixteen words and the block in the
 * caller's bytes.  SHA-1 is not used for anything that needs it to be
 * collision-resistant: RFC 4122 ids only need it to be SHA-1.  The tests
 * check it against FIPS's examples and against libuuid. */
#include <string.h>

#include "cpu.h"
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
 * schedule words in registers; W[t] for t >= 16 lives in w[t mod 16].
 * SHA1_80 lays the rounds out for any round macro R and word macros W0
 * (t < 16) and WX (t >= 16): the scalar code here and the eight-lane code
 * below differ only in those. */
#define R5(R, t, f, k, W) do { \
		R(a, b, c, d, e, f, k, W(t)); \
		R(e, a, b, c, d, f, k, W(t + 1)); \
		R(d, e, a, b, c, f, k, W(t + 2)); \
		R(c, d, e, a, b, f, k, W(t + 3)); \
		R(b, c, d, e, a, f, k, W(t + 4)); \
	} while (0)
#define R20(R, t, f, k, W) do { \
		R5(R, t, f, k, W); \
		R5(R, t + 5, f, k, W); \
		R5(R, t + 10, f, k, W); \
		R5(R, t + 15, f, k, W); \
	} while (0)
#define SHA1_80(R, W0, WX, F1, F2, F3, k1, k2, k3, k4) do { \
		R5(R, 0, F1, k1, W0); \
		R5(R, 5, F1, k1, W0); \
		R5(R, 10, F1, k1, W0); \
		R(a, b, c, d, e, F1, k1, W0(15)); \
		R(e, a, b, c, d, F1, k1, WX(16)); \
		R(d, e, a, b, c, F1, k1, WX(17)); \
		R(c, d, e, a, b, F1, k1, WX(18)); \
		R(b, c, d, e, a, F1, k1, WX(19)); \
		R20(R, 20, F2, k2, WX); \
		R20(R, 40, F3, k3, WX); \
		R20(R, 60, F2, k4, WX); \
	} while (0)

#define F1(b, c, d) (d ^ (b & (c ^ d)))         /* Ch */
#define F2(b, c, d) (b ^ c ^ d)                 /* Parity */
#define F3(b, c, d) ((b & c) | (d & (b | c)))   /* Maj */
#define W0(t) w[t]
#define WX(t) (w[(t) & 15] = rol(w[((t) + 13) & 15] ^ w[((t) + 8) & 15] ^ \
                                 w[((t) + 2) & 15] ^ w[(t) & 15], 1))
#define R(a, b, c, d, e, f, k, wt) do { \
		e += rol(a, 5) + f(b, c, d) + (k) + (wt); \
		b = rol(b, 30); \
	} while (0)
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
	SHA1_80(R, W0, WX, F1, F2, F3, K1, K2, K3, K4);
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/* The message's length in bits, at the end of its last block (5.1.1). */
static void put_length(uint8_t block[64], uint64_t bits)
{
	for (int i = 0; i < 8; i++)
		block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
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
	put_length(block, bits);
	compress(h, block);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

#ifdef RS_HAVE_AVX2_PATHS
#include <immintrin.h>

/* The same rounds, eight messages at once: lane i of every register holds
 * message i's word.  AVX2 has no rotate, so a shift each way. */
#define VROL(x, n) _mm256_or_si256(_mm256_slli_epi32(x, n), _mm256_srli_epi32(x, 32 - (n)))
#define VF1(b, c, d) _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
#define VF2(b, c, d) _mm256_xor_si256(_mm256_xor_si256(b, c), d)
#define VF3(b, c, d) _mm256_or_si256(_mm256_and_si256(b, c), _mm256_and_si256(d, _mm256_or_si256(b, c)))
#define VWX(t) (vw[(t) & 15] = VROL(_mm256_xor_si256(_mm256_xor_si256(vw[((t) + 13) & 15], \
                                                                    vw[((t) + 8) & 15]), \
                                                   _mm256_xor_si256(vw[((t) + 2) & 15], \
                                                                    vw[(t) & 15])), 1))
#define VW0(t) vw[t]
#define VR(a, b, c, d, e, f, k, wt) do { \
		e = _mm256_add_epi32(_mm256_add_epi32(e, VROL(a, 5)), \
		                     _mm256_add_epi32(_mm256_add_epi32(f(b, c, d), k), wt)); \
		b = VROL(b, 30); \
	} while (0)

__attribute__((target("avx2"))) static void blocks8_avx2(uint8_t *const blocks[8],
                                                         uint8_t out[8][RS_SHA1_LEN])
{
	static const uint32_t init[5] = { 0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u,
	                                  0xc3d2e1f0u };
	__m256i vw[16];
	const __m256i k1 = _mm256_set1_epi32((int)K1), k2 = _mm256_set1_epi32((int)K2),
	              k3 = _mm256_set1_epi32((int)K3), k4 = _mm256_set1_epi32((int)K4);

	for (int t = 0; t < 16; t++)
		vw[t] = _mm256_setr_epi32((int)load_be32(blocks[0] + 4 * t), (int)load_be32(blocks[1] + 4 * t),
		                          (int)load_be32(blocks[2] + 4 * t), (int)load_be32(blocks[3] + 4 * t),
		                          (int)load_be32(blocks[4] + 4 * t), (int)load_be32(blocks[5] + 4 * t),
		                          (int)load_be32(blocks[6] + 4 * t), (int)load_be32(blocks[7] + 4 * t));
	__m256i a = _mm256_set1_epi32((int)init[0]), b = _mm256_set1_epi32((int)init[1]),
	        c = _mm256_set1_epi32((int)init[2]), d = _mm256_set1_epi32((int)init[3]),
	        e = _mm256_set1_epi32((int)init[4]);
	SHA1_80(VR, VW0, VWX, VF1, VF2, VF3, k1, k2, k3, k4);
	__m256i h[5] = {
		_mm256_add_epi32(a, _mm256_set1_epi32((int)init[0])),
		_mm256_add_epi32(b, _mm256_set1_epi32((int)init[1])),
		_mm256_add_epi32(c, _mm256_set1_epi32((int)init[2])),
		_mm256_add_epi32(d, _mm256_set1_epi32((int)init[3])),
		_mm256_add_epi32(e, _mm256_set1_epi32((int)init[4])),
	};
	for (int i = 0; i < 5; i++) {
		uint32_t lane[8];
		_mm256_storeu_si256((__m256i *)(void *)lane, h[i]);
		for (int m = 0; m < 8; m++) {
			out[m][4 * i] = (uint8_t)(lane[m] >> 24);
			out[m][4 * i + 1] = (uint8_t)(lane[m] >> 16);
			out[m][4 * i + 2] = (uint8_t)(lane[m] >> 8);
			out[m][4 * i + 3] = (uint8_t)lane[m];
		}
	}
}

int rs_sha1_short8(uint8_t *const blocks[8], const size_t lens[8], uint8_t out[8][RS_SHA1_LEN])
{
	if (!rs_cpu_avx2())
		return -1;
	for (int m = 0; m < 8; m++) {
		/* a one bit, zeros, the length in bits: one block each */
		blocks[m][lens[m]] = 0x80;
		memset(blocks[m] + lens[m] + 1, 0, 56 - lens[m] - 1);
		put_length(blocks[m], (uint64_t)lens[m] * 8);
	}
	blocks8_avx2(blocks, out);
	return 0;
}
#else
int rs_sha1_short8(uint8_t *const blocks[8], const size_t lens[8], uint8_t out[8][RS_SHA1_LEN])
{
	(void)blocks;
	(void)lens;
	(void)out;
	return -1;
}
#endif
