/* Private: what the processor can do, asked once. */
#ifndef RS_CPU_H
#define RS_CPU_H

#if defined(__x86_64__) && defined(__GNUC__)
#define RS_HAVE_AVX2_PATHS 1

#include <stdlib.h>

/* Whether AVX2 may be used: the paths that use it are compiled for it
 * (target attributes) whatever the build's -march, and taken only here.
 * REWARDSTORE_NO_AVX2 (set and not empty) says no, so that the tests run
 * the paths of processors without it too (tools/test-all). */
static inline int rs_cpu_avx2(void)
{
	static int known; /* 0 not asked yet, 1 no, 2 yes */
	int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
	if (k == 0) {
		const char *off = getenv("REWARDSTORE_NO_AVX2");
		__builtin_cpu_init();
		k = __builtin_cpu_supports("avx2") && !(off && *off) ? 2 : 1;
		__atomic_store_n(&known, k, __ATOMIC_RELAXED);
	}
	return k == 2;
}
#endif

#endif
