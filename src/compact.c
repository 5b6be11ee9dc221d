/* The streaming merge of partition files (rs_part_merge, part.h): sorted
 * runs of one partition merged key by key, as they are read, into the
 * next run and the partition's export -- a compaction, as LevelDB's.  No
 * store and no sort: every input is already in key order, so a heap of
 * the inputs' heads gives the keys in order, and memory is the heap, one
 * merged record and the sources, whatever the files' sizes. */
#include <stdlib.h>
#include <string.h>

#include <rewardstore/export.h>
#include <rewardstore/part.h>
#include <rewardstore/record.h>

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

/* ---- the heap of the inputs' heads ---- */

typedef struct head {
	const rs_part *p;
	size_t pos;             /* the entry after this one */
	const uint8_t *key, *val;
	size_t key_len, val_len;
	size_t index;           /* the input's place: ties go to the earlier */
} head;

static int head_less(const head *a, const head *b)
{
	int c = rs_key_cmp(a->key, a->key_len, b->key, b->key_len);
	return c < 0 || (c == 0 && a->index < b->index);
}

static void sift_down(head *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && head_less(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && head_less(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		head t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Move the top to its input's next entry, or drop it at the input's end. */
static void advance(head *h, size_t *n)
{
	if (rs_part_next(h[0].p, &h[0].pos, &h[0].key, &h[0].key_len, &h[0].val, &h[0].val_len) != 1)
		h[0] = h[--*n];
	sift_down(h, *n, 0);
}

int rs_part_merge(rs_part *const *in, size_t nin, const rs_part_merge_opts *opts,
                  rs_part_merge_counts *counts, rs_error *err)
{
	source_array sa = { 0 };
	rs_source_set set = { arr_get, arr_put, arr_del, &sa };
	part_writer w;
	int have_w = 0, rc = 0;
	head *h = NULL;
	size_t nh = 0;
	const rs_part *bad = NULL;  /* the file whose record does not decode */

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
	if ((h = calloc(nin, sizeof *h)) == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nin; i++) {
		head *e = &h[nh];
		e->p = in[i];
		e->index = i;
		if (rs_part_next(in[i], &e->pos, &e->key, &e->key_len, &e->val, &e->val_len) == 1)
			nh++;
	}
	for (size_t i = nh; i-- > 0;)
		sift_down(h, nh, i);

	while (nh > 0) {
		const rs_part *first = h[0].p;
		const uint8_t *key = h[0].key, *val = h[0].val;
		size_t key_len = h[0].key_len, val_len = h[0].val_len;
		rs_record acc, r;
		int several = 0;

		/* every input's record of this key (the files were checked whole
		 * when opened, so they decode); the first only when it is needed:
		 * for the export, or to merge another into */
		if (opts->rows && rs_record_decode(&acc, val, val_len)) {
			bad = first;
			goto damaged;
		}
		advance(h, &nh);
		while (nh > 0 && rs_key_cmp(h[0].key, h[0].key_len, key, key_len) == 0) {
			if (!several && !opts->rows && rs_record_decode(&acc, val, val_len)) {
				bad = first;
				goto damaged;
			}
			several = 1;
			if (rs_record_decode(&r, h[0].val, h[0].val_len)) {
				bad = h[0].p;
				goto damaged;
			}
			rs_record_merge(&acc, &r);
			advance(h, &nh);
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
	free(h);
	free(sa.v);
	return rc;
}
