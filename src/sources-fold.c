/* The one rule for folding a partition file's sources into a set of
 * sources (src/sources-fold.h): a store's (reduce.c) or a streaming
 * merge's (compact.c). */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "hash.h"
#include "sources-fold.h"

/* A byte range's identity: the input's fingerprint mixed with where the
 * range's first line starts. */
static void range_id(const uint8_t fp[16], uint64_t from, uint8_t out[16])
{
	uint8_t buf[24];
	memcpy(buf, fp, 16);
	rs_put_u64(buf + 16, from);
	uint64_t a = rs_hash64(buf, sizeof buf, 0x72616e67ULL), b = rs_hash64(buf, sizeof buf, 0x65303031ULL);
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
}

static void extend(rs_source *whole, const rs_source *next)
{
	whole->bytes = next->bytes;
	whole->lines += next->lines;
	whole->events += next->events;
	whole->rejected += next->rejected;
	whole->tail_hash = next->tail_hash;
	whole->flags = next->flags;
}

int rs_sources_fold(const rs_source_set *set, const rs_part_source *ps)
{
	rs_source in = ps->src, have, next;
	uint8_t id[16];
	int rc;

	in.expect_bytes = RS_SOURCE_ANY;
	rc = set->get(set->ctx, in.fingerprint, &have);
	if (rc && rc != RS_SOURCE_ABSENT)
		return rc;
	int known = rc == 0;
	if (known && have.bytes >= in.bytes)
		return 0; /* covered already: the furthest progress is kept */
	if (ps->from > 0 && !(known && have.bytes == ps->from)) {
		/* not next to the input's progress yet: a range of its own */
		rs_source r = in;
		range_id(in.fingerprint, ps->from, r.fingerprint);
		snprintf(r.name, sizeof r.name, "%.150s [bytes %llu-%llu]", in.name,
		         (unsigned long long)ps->from, (unsigned long long)in.bytes);
		return set->put(set->ctx, &r);
	}
	if (ps->from > 0) {
		extend(&have, &in);
		in = have;
	}
	/* the ranges that follow, already here, join it */
	for (;;) {
		range_id(in.fingerprint, in.bytes, id);
		if ((rc = set->get(set->ctx, id, &next)) == RS_SOURCE_ABSENT)
			break;
		if (rc)
			return rc;
		extend(&in, &next);
		if ((rc = set->del(set->ctx, id)))
			return rc;
	}
	return set->put(set->ctx, &in);
}
