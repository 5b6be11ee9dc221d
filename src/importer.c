/* One input's lines read into batches (rs_import_read_lines), for the
 * rs_import_add call that opened it (import.c) and for the parsers that
 * read its segments (segments.c): bad lines reported in order (a later
 * segment's held back until the lines before it are counted), warnings,
 * progress, and the import's pool of line buffers and batches.  It knows
 * nothing of where the lines come from: import.c and segments.c call it,
 * never the other way round. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rewardstore/batch.h>
#include <rewardstore/dump.h>
#include <rewardstore/import.h>

#include "import-private.h"

/* Callbacks of inputs read at once come one at a time; the pieces of an
 * overlong line come together.  e's line counts from the segment's start:
 * the lines before it are added here. */
static void call_reject(rs_importer *im, const rs_error *e, const char *p, size_t n, int more)
{
	rs_error abs;
	const rs_error *use = e;

	if (im->line_base && e->line) {
		abs = *e;
		abs.line += im->line_base;
		use = &abs;
	}
	if (!im->cb_locked)
		pthread_mutex_lock(&im->imp->cb_mu);
	im->opts->on_reject(im->opts->ctx, use, p, n, more);
	im->cb_locked = more;
	if (!more)
		pthread_mutex_unlock(&im->imp->cb_mu);
}

/* A segment's line numbers become known when the segments before it are
 * done: wait for that, then pass on the rejects held back meanwhile. */
void rs_import_know_base(rs_importer *im)
{
	rs_import *imp = im->imp;
	rs_segment *sg = im->seg;

	if (im->base_known)
		return;
	pthread_mutex_lock(&imp->mu);
	while (sg->sp->nfinished < sg->k)
		pthread_cond_wait(&imp->cv, &imp->mu);
	im->line_base = sg->sp->lines_before;
	pthread_mutex_unlock(&imp->mu);
	im->base_known = 1;
	while (im->held) {
		rs_held *h = im->held;
		im->held = h->next;
		call_reject(im, &h->err, h->line, h->len, 0);
		free(h);
	}
	im->held_end = &im->held;
	im->held_bytes = 0;
}

static void emit_reject(rs_importer *im, const rs_error *e, const char *p, size_t n, int more)
{
	if (im->opts->on_reject == NULL)
		return;
	if (!im->base_known) {
		rs_held *h;
		if (!more && im->held_bytes + n <= MAX_HELD_REJECTS &&
		    (h = malloc(sizeof *h + n)) != NULL) {
			h->next = NULL;
			h->err = *e;
			h->len = n;
			memcpy(h->line, p, n);
			*im->held_end = h;
			im->held_end = &h->next;
			im->held_bytes += n;
			return;
		}
		/* too much to hold (or a line in pieces): wait for the base */
		rs_import_know_base(im);
	}
	call_reject(im, e, p, n, more);
}

static void emit_warning(rs_importer *im, const rs_error *w)
{
	if (im->opts->on_warning == NULL)
		return;
	pthread_mutex_lock(&im->imp->cb_mu);
	im->opts->on_warning(im->opts->ctx, w);
	pthread_mutex_unlock(&im->imp->cb_mu);
}

static void emit_progress(rs_importer *im, const char *path)
{
	if (im->lr.pread)
		return; /* a segment's reader: the owner shows the input's */
	/* progress is for the eyes: skipped when another input is showing */
	if (im->opts->on_progress && pthread_mutex_trylock(&im->imp->cb_mu) == 0) {
		im->opts->on_progress(im->opts->ctx, path, rs_input_raw_bytes(im->lr.in),
		                      rs_input_raw_size(im->lr.in), im->counts);
		pthread_mutex_unlock(&im->imp->cb_mu);
	}
}

static int is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* Read lines into the batch until one starts at or past limit, or the
 * input ends; *lineno is the number of the line read last. */
int rs_import_read_lines(rs_importer *im, const char *path, uint64_t limit, uint64_t *lineno,
                      unsigned *open_line, rs_error *err)
{
	const rs_import_opts *opts = im->opts;
	rs_import_counts *counts = im->counts;
	int rc;

	rs_error long_err;
	for (;;) {
		const char *p;
		size_t len, raw_len;
		int nl;
		const rs_obs *ev;
		size_t nev;
		rs_error lerr;
		rs_line l;

		/* absolute: a refill in next_line may move the buffer */
		uint64_t at = im->lr.base + im->lr.start;
		if (!im->lr.overlong && at >= limit)
			break; /* the next segment's line */
		if (!im->lr.overlong && rs_batch_full(im->batch) &&
		    (rc = rs_import_spill(im, at, *lineno, 0, 0, err)))
			return rc;
		if ((rc = rs_lines_next(&im->lr, &l, err)))
			return rc;
		if (l.p == NULL)
			break;
		if ((*lineno & 0xffff) == 0)
			emit_progress(im, path);
		uint64_t line_off = im->lr.base + (uint64_t)(l.p - im->lr.buf);
		if (l.overlong) {
			/* too long to hold: rejected, and passed on piece by piece */
			if (l.first) {
				(*lineno)++;
				counts->lines++;
				counts->rejected++;
				rs_error_clear(&long_err);
				rs_error_set(&long_err, RS_EBADLINE, "line longer than %u bytes",
				             (unsigned)RS_MAX_LINE);
				rs_error_locate(&long_err, path, *lineno, line_off);
				if (opts->strict) {
					counts->rejected--;
					rc = rs_import_spill(im, at, *lineno - 1, 0, 1, err);
					counts->rejected++;
					if (rc)
						return rc;
					*err = long_err;
					rc = RS_ESTOPPED;
					return rc;
				}
			}
			if (l.last)
				*open_line = l.nl ? 0 : RS_SOURCE_LONG_LINE;
			if (im->skip_long) {
				/* the rest of a line an earlier run rejected and
				 * counted: skipped, not a line of its own */
				im->skip_long = !l.last;
				continue;
			}
			emit_reject(im, &long_err, l.p, l.len, !l.last);
			continue;
		}
		p = l.p;
		len = l.len;
		nl = l.nl;
		(*lineno)++;
		uint64_t first_lineno = *lineno;
		if (im->lr.csv)
			for (const char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p))) != NULL; q++)
				(*lineno)++; /* newlines inside quoted values */
		raw_len = len;
		if (len && p[len - 1] == '\r')
			len--;
		/* a UTF-8 byte order mark at the start of the input is skipped */
		if (line_off == 0 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			len -= 3;
			raw_len -= 3;
		}
		counts->lines += 1 + (*lineno - first_lineno);
		if (is_blank(p, len)) {
			counts->blank++;
			continue;
		}
		rs_error_clear(&lerr);
		int was_header = im->ps.header_pending;
		rc = rs_parser_parse(&im->ps, p, len, &ev, &nev, &lerr);
		if (rc == RS_EBADHEADER) {
			*err = lerr;
			rs_error_locate(err, path, first_lineno, line_off + lerr.offset);
			return rc;
		}
		if (rc == 0 && was_header && im->ps.dump &&
		    *rs_dump_ignored_columns(im->ps.dump) && opts->on_warning) {
			rs_error w;
			rs_error_clear(&w);
			rs_error_set(&w, 0, "ignoring the dump's unknown columns %s",
			             rs_dump_ignored_columns(im->ps.dump));
			rs_error_locate(&w, path, first_lineno, line_off);
			emit_warning(im, &w);
		}
		if (rc == RS_EBADLINE && !nl) {
			/* a last line without a newline that does not parse is still
			 * being written: leave it for a later run */
			counts->lines -= 1 + (*lineno - first_lineno);
			*lineno = first_lineno - 1;
			counts->pending_bytes = raw_len;
			im->lr.start = im->lr.scan = (size_t)(at - im->lr.base);
			break;
		}
		if (rc == RS_EBADLINE) {
			counts->rejected++;
			rs_error_locate(&lerr, path, first_lineno, line_off + lerr.offset);
			emit_reject(im, &lerr, p, raw_len, 0);
			if (opts->strict) {
				/* commit what came before: a re-run resumes at this line,
				 * so the source does not count it yet */
				counts->rejected--;
				rc = rs_import_spill(im, at, first_lineno - 1, 0, 1, err);
				counts->rejected++;
				if (rc)
					return rc;
				*err = lerr;
				rc = RS_ESTOPPED;
				return rc;
			}
			continue;
		}
		if (rc) {
			rs_error_locate(err, path, first_lineno, line_off);
			rs_error_set(err, rc, "%s", lerr.text);
			return rc;
		}
		size_t kept = 0;
		for (size_t i = 0; i < nev; i++) {
			if (opts->shard_n > 1 && rs_shard_of(ev[i].user_id, opts->shard_n) != opts->shard_k)
				continue;
			if ((rc = rs_batch_add_obs(im->batch, &ev[i]))) {
				rs_error_set(err, rc, "out of memory");
				return rc;
			}
			kept++;
		}
		counts->events += kept;
		counts->other_shards += nev - kept;
		*open_line = nl ? 0 : RS_SOURCE_OPEN_LINE;
	}
	return 0;
}

/* The pool of batches and line buffers (see struct rs_import). */
char *rs_import_take_buf(rs_import *imp)
{
	char *buf = NULL;

	pthread_mutex_lock(&imp->mu);
	if (imp->nspare_buf)
		buf = imp->spare_buf[--imp->nspare_buf];
	pthread_mutex_unlock(&imp->mu);
	return buf ? buf : malloc(RS_LINE_BUF_SIZE);
}

int rs_import_take_batch(rs_import *imp, rs_batch **out)
{
	const rs_import_opts *opts = imp->opts;

	pthread_mutex_lock(&imp->mu);
	*out = imp->nspare_batch ? imp->spare_batch[--imp->nspare_batch] : NULL;
	pthread_mutex_unlock(&imp->mu);
	if (*out)
		return 0;
	return rs_batch_new(out, opts->batch_keys ? opts->batch_keys : DEFAULT_BATCH_KEYS,
	                    opts->batch_bytes ? opts->batch_bytes : DEFAULT_BATCH_BYTES);
}

/* Give back an importer's batch (what it holds was not spilled, so is not
 * applied: its progress is not either) and line buffer. */
void rs_import_give_back(rs_importer *im)
{
	rs_import *imp = im->imp;

	pthread_mutex_lock(&imp->mu);
	if (im->batch) {
		rs_batch_clear(im->batch);
		if (imp->nspare_batch < imp->parsers)
			imp->spare_batch[imp->nspare_batch++] = im->batch;
		else
			rs_batch_free(im->batch);
		im->batch = NULL;
	}
	if (im->lr.buf) {
		if (imp->nspare_buf < imp->parsers)
			imp->spare_buf[imp->nspare_buf++] = im->lr.buf;
		else
			free(im->lr.buf);
		im->lr.buf = NULL;
	}
	pthread_mutex_unlock(&imp->mu);
}
