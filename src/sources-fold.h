/* Private: how the sources a partition file lists join a set of sources
 * (the store's, in reduce.c; a streaming merge's, in compact.c), so that
 * the rule lives in one place whoever keeps the set. */
#ifndef RS_SOURCES_FOLD_H
#define RS_SOURCES_FOLD_H

#include <stdint.h>

#include <rewardstore/part.h>
#include <rewardstore/store.h>

/* The set, as its keeper offers it.  get returns 0 with *out filled,
 * RS_SOURCE_ABSENT when the set has no such fingerprint, or an error. */
#define RS_SOURCE_ABSENT 1
typedef struct rs_source_set {
	int (*get)(void *ctx, const uint8_t fp[16], rs_source *out);
	int (*put)(void *ctx, const rs_source *src);
	int (*del)(void *ctx, const uint8_t fp[16]);
	void *ctx;
} rs_source_set;

/* Fold one source of a partition file into the set: the furthest progress
 * of an input is kept; a byte range (from > 0) that does not yet join the
 * input's progress is kept under an identity of its own, and joins it
 * (with the ranges after it) once the ranges before it are in.  Ranges are
 * contiguous, so whatever order the files come in, once all of an input's
 * ranges are folded the set holds what one import of it would have left. */
int rs_sources_fold(const rs_source_set *set, const rs_part_source *ps);

#endif
