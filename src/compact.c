/* The streaming merge of partition files (rs_part_merge, part.h): sorted
 * runs of one partition merged key by key, as they are read, into the
 * next run and the partition's export -- a compaction, as LevelDB's.  No
 * store and no sort: every input is already in key order, so the k-way
 * merge of their heads (kway.c) gives the keys in order, and memory is
 * its heads, one merged record and the sources, whatever the files'
 * sizes. */
#include <stdlib.h>
#include <string.h>

#include <rewardstore/export.h>
#include <rewardstore/part.h>
#include <rewardstore/record.h>

#include "bytes.h"
#include "kway-private.h"
#include "part-private.h"
#include "sources-fold.h"

/* ---- the sources: a small set in an array, kept in fingerprint order ---- */

typedef struct source_array {
	rs_part_source *v;
	size_t n, cap;
} source_array;

static size_t find(const source_array *a, const uint8_t fp[16], int *found)
{
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(a->v[mid].src.fingerprint, fp, 16);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int arr_get(void *ctx, const uint8_t fp[16], rs_source *out)
{
	int found;
	size_t i = find(ctx, fp, &found);
	if (!found)
		return RS_SOURCE_ABSENT;
	*out = ((source_array *)ctx)->v[i].src;
	return 0;
}

static int arr_put(void *ctx, const rs_source *src)
{
	source_array *a = ctx;
	int found;
	size_t i = find(a, src->fingerprint, &found);
	if (!found) {
		if (a->n == a->cap) {
			size_t cap = a->cap ? 2 * a->cap : 16;
			rs_part_source *v = realloc(a->v, cap * sizeof *v);
			if (v == NULL)
				return RS_ENOMEM;
			a->v = v;
			a->cap = cap;
		}
		memmove(&a->v[i + 1], &a->v[i], (a->n - i) * sizeof *a->v);
		a->n++;
	}
	a->v[i].src = *src;
	a->v[i].from = 0; /* as a store keeps it: a range's identity says where it starts */
	return 0;
}

static int arr_del(void *ctx, const uint8_t fp[16])
{
	source_array *a = ctx;
	int found;
	size_t i = find(a, fp, &found);
	if (found) {
		memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof *a->v);
		a->n--;
	}
	return 0;
}

/* ---- the inputs, as the k-way merge reads them ---- */

typedef struct inputs {
	rs_part *const *in;
	size_t *pos;            /* each input's next entry */
} inputs;

static int input_next(void *ctx, size_t i, const uint8_t **key, size_t *key_len,
                      const uint8_t **val, size_t *val_len)
{
	inputs *ins = ctx;
	/* the files were checked whole when opened: an entry is whole */
	return rs_part_next(ins->in[i], &ins->pos[i], key, key_len, val, val_len) == 1;
}

int rs_part_merge(rs_part *const *in, size_t nin, const rs_part_merge_opts *opts,
                  rs_part_merge_counts *counts, rs_error *err)
{
	source_array sa = { 0 };
	rs_source_set set = { arr_get, arr_put, arr_del, &sa };
	part_writer w;
	int have_w = 0, rc = 0;
	inputs ins = { in, NULL };
	rs_kway m = { 0 };
	const rs_part *bad = NULL;  /* the file whose record does not decode */
	/* the entry in hand, and the next (they stay in the mapped files) */
	const uint8_t *key = NULL, *val = NULL, *k2 = NULL, *v2 = NULL;
	size_t key_len = 0, val_len = 0, k2_len = 0, v2_len = 0, which = 0, w2 = 0;
	int more;

	memset(counts, 0, sizeof *counts);
	if (nin == 0)
		return rs_error_set(err, RS_EUSAGE, "no partition files to merge");
	for (size_t i = 1; i < nin; i++)
		if (rs_part_n(in[i]) != rs_part_n(in[0]) || rs_part_k(in[i]) != rs_part_k(in[0])) {
			rs_error_set(err, RS_EUSAGE,
			             "'%s' is partition %u of %u and '%s' partition %u of %u: one merge "
			             "takes one partition", rs_part_name(in[i]), rs_part_k(in[i]),
			             rs_part_n(in[i]), rs_part_name(in[0]), rs_part_k(in[0]),
			             rs_part_n(in[0]));
			rs_error_locate(err, rs_part_name(in[i]), 0, 0);
			return RS_EUSAGE;
		}
	for (size_t i = 0; i < nin; i++) {
		counts->observations += rs_part_observations(in[i]);
		for (size_t j = 0; j < rs_part_nsources(in[i]); j++)
			if ((rc = rs_sources_fold(&set, rs_part_source_at(in[i], j)))) {
				rs_error_set(err, rc, "out of memory");
				goto done;
			}
	}
	counts->sources = sa.n;
	if (opts->out) {
		if ((rc = rs_part_writer_open(&w, opts->out, rs_part_n(in[0]), rs_part_k(in[0]),
		                              opts->flags, sa.v, sa.n, err)))
			goto done;
		have_w = 1;
	}
	if ((ins.pos = calloc(nin, sizeof *ins.pos)) == NULL ||
	    rs_kway_open(&m, nin, input_next, &ins)) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto done;
	}
	more = rs_kway_next(&m, &key, &key_len, &val, &val_len, &which);
	while (more == 1) {
		const rs_part *first = in[which];
		rs_record acc, r;
		int several = 0;

		/* every input's record of this key (the files were checked whole
		 * when opened, so they decode); the first only when it is needed:
		 * for the export, or to merge another into.  The entries stay in
		 * the mapped files, so key and val hold while the merge moves on */
		if (opts->rows && rs_record_decode(&acc, val, val_len)) {
			bad = first;
			goto damaged;
		}
		while ((more = rs_kway_next(&m, &k2, &k2_len, &v2, &v2_len, &w2)) == 1 &&
		       rs_bytes_eq(k2, k2_len, key, key_len)) {
			if (!several && !opts->rows && rs_record_decode(&acc, val, val_len)) {
				bad = first;
				goto damaged;
			}
			several = 1;
			if (rs_record_decode(&r, v2, v2_len)) {
				bad = in[w2];
				goto damaged;
			}
			rs_record_merge(&acc, &r);
		}
		/* the one record's bytes as they are; several, merged, encoded */
		if (have_w && !several) {
			rs_part_writer_add(&w, key, key_len, val, val_len);
		} else if (have_w && rs_part_writer_add_record(&w, key, key_len, &acc)) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto done;
		}
		/* the merged strings point into the mapped files, which outlive
		 * the export's row groups */
		if (opts->rows && (rc = rs_rows_add(opts->rows, key, key_len, &acc, err)))
			goto done;
		counts->records++;
		key = k2;
		key_len = k2_len;
		val = v2;
		val_len = v2_len;
		which = w2;
	}
	goto done;
damaged:
	rc = rs_error_set(err, RS_ECORRUPT, "a record of '%s' does not decode", rs_part_name(bad));
done:
	if (have_w) {
		int crc = rs_part_writer_close(&w, rc == 0, err);
		if (rc == 0)
			rc = crc;
	}
	rs_kway_close(&m);
	free(ins.pos);
	free(sa.v);
	return rc;
}
