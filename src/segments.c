/* Segments: a large plain input cut into byte ranges (lines starting in
 * each) that any parser of the import takes from its queue, with the line
 * numbers and the source's progress put together again in order as the
 * segments finish (import-private.h, "A large plain input"). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/import.h>

#include "import-private.h"

/* With imp->mu held: the records of segments before `to` are covered by
 * progress noted in the current set (or, at the end of a split input that
 * failed, never will be); a commit that waited for them goes now. */
static void count_off(rs_import *imp, rs_split *sp, size_t to)
{
	for (; sp->ncovered < to; sp->ncovered++)
		if (sp->seg[sp->ncovered].uncovered) {
			sp->seg[sp->ncovered].uncovered = 0;
			imp->uncovered--;
		}
	if (imp->commit_due && imp->uncovered == 0) {
		imp->commit_due = 0;
		rs_import_hand_over(imp, 0); /* a failure is kept in imp->rc */
	}
}

/* With imp->mu held: segment sg is done (its batches spilled, its rejects
 * passed on).  The segments done in a row from the first give the lines
 * before the next one; those read without error, the source's progress. */
void rs_import_segment_done(rs_import *imp, rs_segment *sg)
{
	rs_split *sp = sg->sp;
	size_t had = sp->nprogress;

	sg->done = 1;
	while (sp->nfinished < sp->nseg && sp->seg[sp->nfinished].done)
		sp->lines_before += sp->seg[sp->nfinished++].counts.lines;
	while (sp->nprogress < sp->nfinished && sp->seg[sp->nprogress].rc == 0)
		sp->nprogress++;
	/* not to the end of a segment no line starts in: it is not known */
	while (sp->nprogress > had && sp->seg[sp->nprogress - 1].end == RS_NO_END)
		sp->nprogress--;
	if (sp->nprogress > had && sp->nprogress > 1) {
		/* the first segment's own batches carried its progress */
		rs_source src = sp->src;
		const rs_segment *last = &sp->seg[sp->nprogress - 1];
		src.bytes = last->end;
		src.tail_hash = last->tail_hash;
		src.flags = last->open_line;
		src.lines = sp->at_start.lines;
		src.events = sp->at_start.events;
		src.rejected = sp->at_start.rejected;
		for (size_t k = 0; k < sp->nprogress; k++) {
			src.lines += sp->seg[k].counts.lines;
			src.events += sp->seg[k].counts.events;
			src.rejected += sp->seg[k].counts.rejected;
		}
		int rc = rs_import_note_source(imp, imp->cur, &src);
		if (rc && sg->rc == 0) {
			sg->rc = rc;
			rs_error_set(&sg->err, rc, "out of memory");
		}
	}
	count_off(imp, sp, sp->nprogress);
	pthread_cond_broadcast(&imp->cv);
}

/* Read a segment after the first, in whichever parser took it. */
static void run_segment(rs_import *imp, rs_segment *sg)
{
	rs_split *sp = sg->sp;
	rs_importer im = { .imp = imp, .s = imp->s, .opts = imp->opts, .counts = &sg->counts,
	                .seg = sg };
	uint64_t lineno = 0;
	unsigned open_line = 0;
	int rc;

	im.held_end = &im.held;
	rs_error_clear(&sg->err);
	memset(&sg->counts, 0, sizeof sg->counts);
	im.lr.in = sp->in;
	im.lr.pread = 1;
	im.lr.cap = RS_LINE_BUF_SIZE;
	if ((rc = rs_parser_new(&im.ps, imp->opts)) || (im.lr.buf = rs_import_take_buf(imp)) == NULL ||
	    (rc = rs_import_take_batch(imp, &im.batch))) {
		rc = rs_error_set(&sg->err, RS_ENOMEM, "out of memory");
		goto done;
	}
	int none;
	if ((rc = rs_lines_seek(&im.lr, sg->from, sg->to, &none, &sg->err)))
		goto done;
	if (none) {
		sg->end = RS_NO_END;
		goto done;
	}
	uint64_t start = im.lr.base + im.lr.start;
	if ((rc = rs_import_read_lines(&im, sp->path, sg->to, &lineno, &open_line, &sg->err)))
		goto done;
	sg->end = im.lr.base + im.lr.start;
	sg->tail_hash = rs_lines_tail_hash(&im.lr, sg->end);
	sg->open_line = open_line;
	sg->counts.bytes = sg->end - start;
	if (rs_batch_count(im.batch))
		rc = rs_import_spill(&im, sg->end, lineno, open_line, 0, &sg->err);
done:
	/* rejects held back go before the segment counts as done: so they
	 * come in the input's order; an error's line gets the base too */
	rs_import_know_base(&im);
	if (rc && sg->err.line)
		sg->err.line += im.line_base;
	if (im.cb_locked)
		pthread_mutex_unlock(&imp->cb_mu);
	rs_import_give_back(&im);
	rs_parser_free(&im.ps);
	pthread_mutex_lock(&imp->mu);
	sg->rc = rc;
	rs_import_segment_done(imp, sg);
	pthread_mutex_unlock(&imp->mu);
}

/* With imp->mu held: read queued segments, for an owner until its own
 * input's are all done, for a helper until none is queued and no
 * rs_import_add may queue more. */
static void work(rs_import *imp, const rs_split *own)
{
	for (;;) {
		if (own ? own->nfinished == own->nseg : imp->queue == NULL && imp->adding == 0)
			return;
		rs_segment *sg = imp->queue;
		/* a due commit waits for the segments being read, not for more
		 * (see struct rs_import) */
		if (sg == NULL || (imp->commit_due && imp->uncovered)) {
			pthread_cond_wait(&imp->cv, &imp->mu);
			continue;
		}
		if ((imp->queue = sg->next) == NULL)
			imp->queue_end = &imp->queue;
		pthread_mutex_unlock(&imp->mu);
		run_segment(imp, sg);
		pthread_mutex_lock(&imp->mu);
	}
}

void rs_import_help(rs_import *imp)
{
	pthread_mutex_lock(&imp->mu);
	work(imp, NULL);
	pthread_mutex_unlock(&imp->mu);
}

/* Where the k-th segment of len bytes begins, cut in big pieces of which
 * the last is cut in TAIL_PIECES again; in units of a tail piece. */
static uint64_t cut(uint64_t len, uint64_t big, size_t k)
{
	uint64_t u = k < big ? k * TAIL_PIECES : (big - 1) * TAIL_PIECES + (k - (big - 1));
	return (uint64_t)((unsigned __int128)len * u / (big * TAIL_PIECES));
}

/* Cut what is left of the input, from offset at, into segments, the first
 * for the owner and the others queued; NULL when it is not worth it or
 * cannot be (not a plain file, a dump, strict mode, one parser). */
rs_split *rs_import_split(rs_importer *im, const char *path, uint64_t at)
{
	rs_import *imp = im->imp;
	uint64_t size = rs_input_raw_size(im->lr.in), seg = imp->segment_bytes;

	if (imp->parsers < 2 || im->opts->format != RS_IN_LOG || im->opts->strict ||
	    !rs_input_seekable(im->lr.in) || size < at || size - at < 2 * seg)
		return NULL;
	/* Pieces of about seg bytes, the same size, and the last of them cut
	 * in TAIL_PIECES: whoever takes the input's last segment may be the
	 * last parser still reading while the others wait for the commit, and
	 * a short last piece keeps that wait short (with 16 MiB and the rest
	 * in the last segment, up to 32 MiB, one core idled for 0.04 s at the
	 * end of the bench's import).  At most MAX_SEGMENTS: a segment's state
	 * is about a kilobyte. */
	uint64_t len = size - at, big = (len + seg - 1) / seg;
	if (big + TAIL_PIECES - 1 > MAX_SEGMENTS)
		big = MAX_SEGMENTS - TAIL_PIECES + 1;
	size_t n = (size_t)big - 1 + TAIL_PIECES;
	rs_split *sp = calloc(1, sizeof *sp);
	if (sp == NULL || (sp->seg = calloc(n, sizeof *sp->seg)) == NULL) {
		free(sp);
		return NULL; /* read by one parser, then */
	}
	sp->path = path;
	sp->in = im->lr.in;
	sp->src = im->src;
	sp->at_start = im->at_start;
	sp->lines_before = im->at_start.lines;
	sp->nseg = n;
	for (size_t k = 0; k < n; k++) {
		sp->seg[k].sp = sp;
		sp->seg[k].k = k;
		sp->seg[k].from = at + cut(len, big, k);
		sp->seg[k].to = k + 1 < n ? at + cut(len, big, k + 1) : UINT64_MAX;
	}
	pthread_mutex_lock(&imp->mu);
	for (size_t k = 1; k < n; k++) {
		*imp->queue_end = &sp->seg[k];
		imp->queue_end = &sp->seg[k].next;
	}
	pthread_cond_broadcast(&imp->cv);
	pthread_mutex_unlock(&imp->mu);
	return sp;
}

/* The owner's end of a split input: the segments not yet taken are not
 * read when the first failed; wait for the others, and add up. */
int rs_import_split_finish(rs_importer *im, rs_split *sp, int rc, rs_error *err)
{
	rs_import *imp = im->imp;
	rs_import_counts *counts = im->counts;

	pthread_mutex_lock(&imp->mu);
	if (rc) {
		for (rs_segment **q = &imp->queue; *q;) {
			if ((*q)->sp == sp) {
				(*q)->rc = RS_ESTOPPED;
				rs_import_segment_done(imp, *q);
				*q = (*q)->next;
			} else {
				q = &(*q)->next;
			}
		}
		imp->queue_end = &imp->queue;
		while (*imp->queue_end)
			imp->queue_end = &(*imp->queue_end)->next;
	}
	work(imp, sp);
	/* segments a failure left uncovered stay so: the commit at the end
	 * holds them (the import failed; doc/DESIGN.md, "Segments") */
	count_off(imp, sp, sp->nseg);
	pthread_mutex_unlock(&imp->mu);
	/* seg[0]'s counts are *counts already */
	for (size_t k = 1; k < sp->nseg; k++) {
		const rs_import_counts *c = &sp->seg[k].counts;
		counts->bytes += c->bytes;
		counts->lines += c->lines;
		counts->blank += c->blank;
		counts->events += c->events;
		counts->rejected += c->rejected;
		counts->other_shards += c->other_shards;
		counts->pending_bytes += c->pending_bytes;
		if (rc == 0 && sp->seg[k].rc) {
			rc = sp->seg[k].rc;
			*err = sp->seg[k].err;
		}
	}
	free(sp->seg);
	free(sp);
	return rc;
}
