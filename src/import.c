/* The import pipeline (see include/rewardstore/import.h).
 *
 * Exactly-once: each input is a source, identified by a fingerprint of its
 * first line (its content, not its name), with its progress: how many bytes
 * and lines were applied and a hash of the 64 bytes before that point.  The
 * progress is written in the same transaction as the records the bytes
 * produced, so after a crash the store says exactly where to resume.  A
 * later run checks that the input still holds the same bytes before that
 * point and resumes there; an input that does not is read from its start
 * as a new source.  Offsets are in decompressed bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/batch.h>
#include <rewardstore/dump.h>
#include <rewardstore/event.h>
#include <rewardstore/import.h>
#include <rewardstore/runs.h>

#include "hash.h"
#include "input.h"
#include "thread.h"

#define TAIL_LEN 64
/* the buffer never grows: it holds the longest line plus the tail */
#define BUF_SIZE (RS_MAX_LINE + 4096)
/* Batches: the pre-merged observations of a stretch of input, one per
 * parser and one being spilled; each is bounded in keys and in bytes,
 * which bounds the importer's heap (doc/DESIGN.md, "Memory").  A full batch
 * is sorted, encoded and spilled as a run (include/rewardstore/runs.h);
 * the runs are applied in one transaction, with the sources' progress,
 * every commit_events observations, at the end, and before a strict stop;
 * earlier if the runs grow past MAX_RUN_BYTES or MAX_RUNS (each run read
 * at once costs a little memory). */
#define DEFAULT_BATCH_KEYS 24576
#define DEFAULT_BATCH_BYTES (6u << 20)
#define DEFAULT_COMMIT_EVENTS 8000000
#define MAX_RUN_BYTES (4ULL << 30)
#define MAX_RUNS 4096

/* Lines of an input, each with its absolute offset.  The buffer always
 * keeps TAIL_LEN bytes before the current position, for the tail hash. */
typedef struct line_reader {
	rs_input *in;
	char *buf;
	size_t cap;
	size_t start, scan, end; /* unread bytes: buf[start..end) */
	uint64_t base;           /* absolute offset of buf[0] */
	int eof;
	int overlong;            /* in a line too long to hold */
	int csv;                 /* a newline inside quotes does not end a record */
	size_t quotes;           /* quotes in buf[start..scan) */
} line_reader;

/* One line, or one piece of an overlong line. */
typedef struct line {
	const char *p;           /* NULL at the end of the input */
	size_t len;              /* without the newline */
	int nl;                  /* it ended with a newline */
	int overlong;            /* a piece of a line longer than RS_MAX_LINE */
	int first, last;         /* for pieces: the first, the last */
} line;

static int fill(line_reader *lr, rs_error *err)
{
	size_t keep = lr->start > TAIL_LEN ? lr->start - TAIL_LEN : 0;
	size_t got;
	int rc;

	if (keep) {
		memmove(lr->buf, lr->buf + keep, lr->end - keep);
		lr->base += keep;
		lr->start -= keep;
		lr->scan -= keep;
		lr->end -= keep;
	}
	if ((rc = rs_input_read(lr->in, lr->buf + lr->end, lr->cap - lr->end, &got, err)))
		return rc;
	lr->end += got;
	lr->eof = got == 0;
	return 0;
}

/* The next line, or the next piece of an overlong one; l->p is NULL at the
 * end of the input.  Returns a status. */
static int next_line(line_reader *lr, line *l, rs_error *err)
{
	int rc;

	memset(l, 0, sizeof *l);
	for (;;) {
		char *q = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
		if (q && lr->csv && !lr->overlong) {
			lr->quotes += rs_csv_count_quotes(lr->buf + lr->scan,
			                                  (size_t)(q - lr->buf) - lr->scan);
			if (lr->quotes % 2) {
				/* inside quotes: the record goes on past this newline */
				lr->scan = (size_t)(q - lr->buf) + 1;
				continue;
			}
		}
		if (q || (lr->eof && lr->start < lr->end)) {
			lr->quotes = 0;
			l->p = lr->buf + lr->start;
			l->len = (size_t)((q ? q : lr->buf + lr->end) - l->p);
			l->nl = q != NULL;
			if (lr->overlong) {
				l->overlong = l->last = 1;
				lr->overlong = 0;
			}
			lr->start = lr->scan = q ? (size_t)(q - lr->buf) + 1 : lr->end;
			return 0;
		}
		if (lr->csv && !lr->overlong)
			lr->quotes += rs_csv_count_quotes(lr->buf + lr->scan, lr->end - lr->scan);
		lr->scan = lr->end;
		if (lr->eof) {
			if (lr->overlong) {
				/* an overlong last line ends here: say so */
				l->p = lr->buf + lr->start;
				l->overlong = l->last = 1;
				lr->overlong = 0;
			}
			return 0;
		}
		if (lr->end == lr->cap && lr->start <= TAIL_LEN) {
			/* no newline in a full buffer: hand this piece over and go on
			 * without holding the line */
			l->p = lr->buf + lr->start;
			l->len = lr->end - lr->start;
			l->overlong = 1;
			l->first = !lr->overlong;
			lr->overlong = 1;
			lr->quotes = 0;
			lr->start = lr->scan = lr->end;
			return 0;
		}
		if ((rc = fill(lr, err)))
			return rc;
	}
}

/* Make the first `lines` lines (or as many as the input has) readable
 * without consuming them; *len is 0 for an empty input, and does not count
 * the last newline. */
static int peek_lines(line_reader *lr, int lines, const char **p, size_t *len,
                      rs_error *err)
{
	size_t from = 0;
	char *q = NULL;
	int rc;

	for (int i = 0; i < lines; i++) {
		while ((q = memchr(lr->buf + from, '\n', lr->end - from)) == NULL && !lr->eof &&
		       lr->end < lr->cap)
			if ((rc = fill(lr, err)))
				return rc;
		if (q == NULL)
			break;
		from = (size_t)(q - lr->buf) + 1;
	}
	*p = lr->buf;
	*len = q ? (size_t)(q - lr->buf) : lr->end;
	return 0;
}

/* Discard bytes up to the absolute offset to; *short_input is set when the
 * input ends first. */
static int skip_to(line_reader *lr, uint64_t to, int *short_input,
                   rs_error *err)
{
	int rc;

	*short_input = 0;
	while (lr->base + lr->end < to) {
		if (lr->eof) {
			*short_input = 1;
			return 0;
		}
		lr->start = lr->scan = lr->end;
		if ((rc = fill(lr, err)))
			return rc;
	}
	lr->start = lr->scan = (size_t)(to - lr->base);
	lr->quotes = 0;
	return 0;
}

/* Hash of the (up to TAIL_LEN) bytes before the absolute offset at, which
 * the buffer still holds: fill() keeps them. */
static uint64_t tail_hash(const line_reader *lr, uint64_t at)
{
	size_t i = (size_t)(at - lr->base);
	size_t k = i < TAIL_LEN ? i : TAIL_LEN;
	return rs_hash64(lr->buf + i - k, k, 0x7461696cULL);
}

uint32_t rs_shard_of(const uint8_t user[16], uint32_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ user[i]) * 1099511628211ULL;
	return n > 1 ? (uint32_t)(h % n) : 0;
}

/* The source's identity: its first line, and the shard it is read with
 * (SPEC section 5): each shard of one input has progress of its own. */
static void fingerprint(const char *p, size_t n, uint32_t shard_k, uint32_t shard_n,
                        uint8_t fp[16])
{
	uint64_t seed = shard_n > 1 ? ((uint64_t)shard_n << 32 | shard_k) * 0x9e3779b97f4a7c15ULL : 0;
	uint64_t a = rs_hash64(p, n, 0x66703161ULL ^ seed), b = rs_hash64(p, n, 0x66703262ULL ^ seed);
	memcpy(fp, &a, 8);
	memcpy(fp + 8, &b, 8);
}

/* The reader of the input's records: the JSON event reader or the dump
 * reader. */
typedef struct parser {
	rs_input_format format;
	rs_event_reader *events;
	rs_dump_reader *dump;
	int header_pending;    /* a dump whose header has not been read */
} parser;

static int parser_new(parser *ps, const rs_import_opts *opts)
{
	ps->format = opts->format;
	if (opts->format == RS_IN_LOG)
		return rs_event_reader_new(&ps->events, opts->default_offset_min);
	ps->header_pending = opts->format == RS_IN_DUMP_CSV || opts->text_header;
	return rs_dump_reader_new(&ps->dump, opts->format == RS_IN_DUMP_CSV ? RS_DUMP_CSV
	                                                                       : RS_DUMP_TEXT,
	                          opts->text_header);
}

static void parser_free(parser *ps)
{
	rs_event_reader_free(ps->events);
	rs_dump_reader_free(ps->dump);
}

static int parse_record(parser *ps, const char *p, size_t n, const rs_obs **ev,
                        size_t *nev, rs_error *err)
{
	if (ps->events)
		return rs_event_parse(ps->events, p, n, ev, nev, err);
	int rc = rs_dump_parse(ps->dump, p, n, ev, nev, err);
	if (rc == 0 && ps->header_pending)
		ps->header_pending = 0;
	return rc;
}

/* An import.  Parsers (the threads calling rs_import_add) fill a batch
 * each, pack it and append it as a run to the current run set, noting
 * their input's progress with it.  Every commit_events observations the
 * set is handed to the committer thread, which merges its runs into the
 * store in one transaction with that progress, while the parsers go on
 * into the other set.  So what a commit holds is always a prefix of each
 * input, and parsing never waits for the B-tree unless a second set fills
 * before the first is merged. */
typedef struct run_set {
	rs_runs *runs;
	uint64_t since;       /* observations in the runs */
	int dirty;            /* progress of some source is in it */
} run_set;

/* every source this import has read */
typedef struct src_entry {
	rs_source cur;        /* the progress handed over last: where a second
	                       * reading of the same input in this import resumes */
	uint64_t stored;      /* its bytes in the store as of its last commit: a
	                       * commit checks the store still says so */
	rs_source prog[2];    /* its progress in each run set */
	int dirty[2];
} src_entry;

struct rs_import {
	rs_store *s;
	const rs_import_opts *opts;
	uint64_t commit_events;
	pthread_mutex_t mu;   /* guards all that follows */
	pthread_cond_t cv;
	run_set set[2];
	int cur;              /* the set parsers append to */
	int merging;          /* the other set is being merged */
	uint64_t merge_gen, done_gen; /* merges asked for, and finished */
	int stop;
	int rc;               /* the first failure of a merge, kept */
	rs_error err;
	src_entry *srcs;
	size_t nsrcs, srcs_cap;
	/* fingerprints of the inputs being read now: a second input with the
	 * same one waits for the first to finish, then resumes after it */
	uint8_t (*reading)[16];
	size_t nreading;
	size_t parsers;
	/* batches and line buffers of inputs done, for the next ones: memory
	 * freed and taken again is page-faulted in again (doc/DESIGN.md,
	 * "Page faults") */
	rs_batch **spare_batch;
	char **spare_buf;
	size_t nspare_batch, nspare_buf;
	pthread_t thread;
	int started;          /* mu, cv and the committer thread exist */
	/* inputs read at once call back one at a time */
	pthread_mutex_t cb_mu;
};

/* One input of an import. */
typedef struct importer {
	rs_import *imp;
	rs_store *s;
	const rs_import_opts *opts;
	rs_batch *batch;      /* being filled */
	int reading;          /* its fingerprint is in imp->reading */
	int cb_locked;        /* holds cb_mu between pieces of an overlong line */
	parser ps;
	rs_source src;        /* progress as committed next */
	rs_source at_start;   /* progress before this run */
	rs_import_counts *counts;
	line_reader lr;
} importer;

static src_entry *src_find(rs_import *imp, const uint8_t fp[16])
{
	for (size_t i = imp->nsrcs; i-- > 0;)
		if (memcmp(imp->srcs[i].cur.fingerprint, fp, 16) == 0)
			return &imp->srcs[i];
	return NULL;
}

/* Note, with imp->mu held, that set c holds src's progress. */
static int src_note(rs_import *imp, int c, const rs_source *src)
{
	src_entry *e = src_find(imp, src->fingerprint);

	if (e == NULL) {
		if (imp->nsrcs == imp->srcs_cap) {
			size_t cap = imp->srcs_cap ? 2 * imp->srcs_cap : 16;
			src_entry *a = realloc(imp->srcs, cap * sizeof *a);
			if (a == NULL)
				return RS_ENOMEM;
			imp->srcs = a;
			imp->srcs_cap = cap;
		}
		e = &imp->srcs[imp->nsrcs++];
		memset(e, 0, sizeof *e);
		/* first seen: the store says what the importer read there */
		e->stored = src->expect_bytes;
	}
	e->cur = *src;
	e->prog[c] = *src;
	e->dirty[c] = 1;
	imp->set[c].dirty = 1;
	return 0;
}

/* The committer: merges each run set it is handed into the store.  Called
 * with imp->mu held; lets it go while merging. */
static void merge_set(rs_import *imp, int c)
{
	size_t n = 0;
	rs_error err;
	int rc;

	/* the sources' progress in this set, each with the bytes the store
	 * must still say: copied, as parsers may grow the table meanwhile */
	rs_source *list = malloc((imp->nsrcs ? imp->nsrcs : 1) * sizeof *list);
	rs_error_clear(&err);
	if (list == NULL) {
		rc = rs_error_set(&err, RS_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < imp->nsrcs; i++)
		if (imp->srcs[i].dirty[c]) {
			list[n] = imp->srcs[i].prog[c];
			list[n++].expect_bytes = imp->srcs[i].stored;
		}
	pthread_mutex_unlock(&imp->mu);
	rc = rs_store_apply_runs(imp->s, imp->set[c].runs, list, n, &err);
	if (rc == 0)
		rc = rs_runs_clear(imp->set[c].runs, &err);
	pthread_mutex_lock(&imp->mu);
	for (size_t i = 0; rc == 0 && i < imp->nsrcs; i++)
		if (imp->srcs[i].dirty[c]) {
			imp->srcs[i].stored = imp->srcs[i].prog[c].bytes;
			imp->srcs[i].dirty[c] = 0;
		}
	free(list);
done:
	imp->set[c].since = 0;
	imp->set[c].dirty = 0;
	if (rc && imp->rc == 0) {
		/* nothing more is committed: later progress would skip this */
		imp->rc = rc;
		imp->err = err;
	}
}

static void *committer_main(void *arg)
{
	rs_import *imp = arg;

	rs_thread_name("rs-commit");
	pthread_mutex_lock(&imp->mu);
	for (;;) {
		while (!imp->merging && !imp->stop)
			pthread_cond_wait(&imp->cv, &imp->mu);
		if (!imp->merging)
			break;
		merge_set(imp, 1 - imp->cur);
		imp->merging = 0;
		imp->done_gen++;
		pthread_cond_broadcast(&imp->cv);
	}
	pthread_mutex_unlock(&imp->mu);
	return NULL;
}

static int set_full(const rs_import *imp, const run_set *set)
{
	return set->since >= imp->commit_events || rs_runs_bytes(set->runs) >= MAX_RUN_BYTES ||
	       rs_runs_count(set->runs) >= MAX_RUNS;
}

/* With imp->mu held: hand the current set to the committer (after the one
 * before it is merged), if wait or if it is still full then; with wait,
 * return when it is merged too. */
static int hand_over(rs_import *imp, int wait)
{
	while (imp->merging)
		pthread_cond_wait(&imp->cv, &imp->mu);
	if (imp->rc)
		return imp->rc;
	if (!imp->set[imp->cur].dirty || !(wait || set_full(imp, &imp->set[imp->cur])))
		return 0;
	imp->cur = 1 - imp->cur;
	imp->merging = 1;
	uint64_t mine = ++imp->merge_gen;
	pthread_cond_broadcast(&imp->cv);
	if (wait)
		while (imp->done_gen < mine)
			pthread_cond_wait(&imp->cv, &imp->mu);
	return imp->rc;
}

/* The input up to the absolute offset at, where a line starts, is in the
 * batch: spill the batch as a run with that progress.  With wait, return
 * only when it is committed, saying how that went. */
static int commit(importer *im, uint64_t at, uint64_t lines, unsigned flags,
                  int wait, rs_error *err)
{
	rs_import *imp = im->imp;
	int rc;

	im->src.bytes = at;
	im->src.lines = lines;
	im->src.flags = flags;
	im->src.tail_hash = tail_hash(&im->lr, at);
	im->src.events = im->at_start.events + im->counts->events;
	im->src.rejected = im->at_start.rejected + im->counts->rejected;
	/* sorting and encoding here, in the parser's thread, leaves the
	 * committer only the merge */
	if ((rc = rs_batch_pack(im->batch)))
		return rs_error_set(err, rc, "out of memory");

	pthread_mutex_lock(&imp->mu);
	run_set *set = &imp->set[imp->cur];
	if ((rc = imp->rc)) {
		*err = imp->err;
	} else if ((rc = rs_runs_add(set->runs, im->batch, err)) == 0) {
		if ((rc = src_note(imp, imp->cur, &im->src))) {
			rs_error_set(err, rc, "out of memory");
		} else {
			set->since += rs_batch_observations(im->batch);
			if (wait || set_full(imp, set)) {
				if ((rc = hand_over(imp, wait)))
					*err = imp->err;
			}
		}
	}
	pthread_mutex_unlock(&imp->mu);
	rs_batch_clear(im->batch);
	return rc;
}

/* Callbacks of inputs read at once come one at a time; the pieces of an
 * overlong line come together. */
static void emit_reject(importer *im, const rs_error *e, const char *p, size_t n, int more)
{
	if (im->opts->on_reject == NULL)
		return;
	if (!im->cb_locked)
		pthread_mutex_lock(&im->imp->cb_mu);
	im->opts->on_reject(im->opts->ctx, e, p, n, more);
	im->cb_locked = more;
	if (!more)
		pthread_mutex_unlock(&im->imp->cb_mu);
}

static void emit_warning(importer *im, const rs_error *w)
{
	if (im->opts->on_warning == NULL)
		return;
	pthread_mutex_lock(&im->imp->cb_mu);
	im->opts->on_warning(im->opts->ctx, w);
	pthread_mutex_unlock(&im->imp->cb_mu);
}

static void emit_progress(importer *im, const char *path)
{
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

/* Find where this input resumes.  *restart is set when the input turned
 * out not to continue the source with its fingerprint: it must then be read
 * again from its beginning. */
static int resume(importer *im, const char *path, int *restart, rs_error *err)
{
	const char *first;
	size_t first_len;
	int rc, short_input;

	*restart = 0;
	/* a dump's header line is the same in every dump of the table: its
	 * first row is what tells dumps apart */
	int header = im->ps.header_pending;
	if ((rc = peek_lines(&im->lr, header ? 2 : 1, &first, &first_len, err)))
		return rc;
	fingerprint(first, first_len, im->opts->shard_k, im->opts->shard_n, im->src.fingerprint);
	snprintf(im->src.name, sizeof im->src.name, "%s", path);
	/* an input with the same fingerprint being read now goes first; then
	 * this import's own reading of it, which may not be committed yet */
	rs_import *imp = im->imp;
	pthread_mutex_lock(&imp->mu);
	for (size_t i = 0; i < imp->nreading;)
		if (memcmp(imp->reading[i], im->src.fingerprint, 16) == 0) {
			pthread_cond_wait(&imp->cv, &imp->mu);
			i = 0;
		} else {
			i++;
		}
	if (imp->nreading == imp->parsers) {
		/* more callers at once than the import was made for: its table
		 * of inputs being read has no room */
		pthread_mutex_unlock(&imp->mu);
		rs_error_set(err, RS_EUSAGE, "more inputs read at once than the import's %zu parsers",
		             imp->parsers);
		rs_error_locate(err, path, 0, 0);
		return RS_EUSAGE;
	}
	memcpy(imp->reading[imp->nreading++], im->src.fingerprint, 16);
	im->reading = 1;
	src_entry *e = src_find(imp, im->src.fingerprint);
	if (e)
		im->at_start = e->cur;
	rc = e ? 0 : MDB_NOTFOUND;
	pthread_mutex_unlock(&imp->mu);
	if (rc == MDB_NOTFOUND)
		rc = rs_store_source_get(im->s, im->src.fingerprint, &im->at_start, err);
	/* what the store says now, if the committer has not seen this source
	 * yet: each commit checks that the store still says it */
	im->src.expect_bytes = rc == 0 ? im->at_start.bytes : 0;
	if (rc == MDB_NOTFOUND || im->opts->force || first_len == 0) {
		memset(&im->at_start, 0, sizeof im->at_start);
		return 0;
	}
	if (rc)
		return rc;
	if ((rc = skip_to(&im->lr, im->at_start.bytes, &short_input, err)))
		return rc;
	if (!short_input &&
	    tail_hash(&im->lr, im->at_start.bytes) == im->at_start.tail_hash) {
		im->counts->skipped_bytes = im->at_start.bytes;
		if (header && im->at_start.bytes > 0) {
			/* the header was read before: read it again for the columns */
			const rs_obs *ev;
			const char *nl = memchr(first, '\n', first_len);
			size_t nev, hlen = nl ? (size_t)(nl - first) : first_len;
			if (hlen && first[hlen - 1] == '\r')
				hlen--;
			if ((rc = parse_record(&im->ps, first, hlen, &ev, &nev, err)))
				return rc;
		}
		/* a newline that ends the open line applied last time is no new line */
		if ((im->at_start.flags & RS_SOURCE_OPEN_LINE)) {
			line l;
			while (im->lr.start == im->lr.end && !im->lr.eof)
				if ((rc = fill(&im->lr, err)))
					return rc;
			if (im->lr.start < im->lr.end && im->lr.buf[im->lr.start] == '\n' &&
			    (rc = next_line(&im->lr, &l, err)))
				return rc;
		}
		return 0;
	}
	/* Same first line, other content: a different input.  It is read from
	 * its start and its progress replaces the old entry. */
	memset(&im->at_start, 0, sizeof im->at_start);
	*restart = 1;
	return 0;
}

int rs_import_begin(rs_store *s, const rs_import_opts *opts, rs_import **out,
                    rs_error *err)
{
	rs_import *imp = calloc(1, sizeof *imp);
	int rc;

	*out = NULL;
	if (imp == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	imp->s = s;
	imp->opts = opts;
	imp->parsers = opts->parsers ? opts->parsers : 1;
	imp->commit_events = opts->commit_events ? opts->commit_events : DEFAULT_COMMIT_EVENTS;
	if ((imp->reading = calloc(imp->parsers, sizeof *imp->reading)) == NULL ||
	    (imp->spare_batch = calloc(imp->parsers, sizeof *imp->spare_batch)) == NULL ||
	    (imp->spare_buf = calloc(imp->parsers, sizeof *imp->spare_buf)) == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto free_import;
	}
	if ((rc = rs_runs_new(&imp->set[0].runs, rs_store_path(s), err)) ||
	    (rc = rs_runs_new(&imp->set[1].runs, rs_store_path(s), err)))
		goto free_import;
	if ((rc = pthread_mutex_init(&imp->mu, NULL))) {
		rs_error_set(err, rc, "cannot make a mutex: %s", rs_strerror(rc));
		goto free_import;
	}
	if ((rc = pthread_mutex_init(&imp->cb_mu, NULL))) {
		rs_error_set(err, rc, "cannot make a mutex: %s", rs_strerror(rc));
		goto destroy_mu;
	}
	if ((rc = pthread_cond_init(&imp->cv, NULL))) {
		rs_error_set(err, rc, "cannot make a condition variable: %s", rs_strerror(rc));
		goto destroy_cb_mu;
	}
	if ((rc = pthread_create(&imp->thread, NULL, committer_main, imp))) {
		rs_error_set(err, rc, "cannot start a thread: %s", rs_strerror(rc));
		goto destroy_cv;
	}
	imp->started = 1;
	*out = imp;
	return 0;
destroy_cv:
	pthread_cond_destroy(&imp->cv);
destroy_cb_mu:
	pthread_mutex_destroy(&imp->cb_mu);
destroy_mu:
	pthread_mutex_destroy(&imp->mu);
free_import:
	rs_import_free(imp);
	return rc;
}

int rs_import_commit(rs_import *imp, rs_error *err)
{
	int rc;

	pthread_mutex_lock(&imp->mu);
	if ((rc = hand_over(imp, 1)))
		*err = imp->err;
	pthread_mutex_unlock(&imp->mu);
	return rc;
}

void rs_import_free(rs_import *imp)
{
	if (imp == NULL)
		return;
	if (imp->started) {
		pthread_mutex_lock(&imp->mu);
		/* what the runs hold is a prefix of each input: committed rather
		 * than thrown away, unless a merge failed before */
		hand_over(imp, 1);
		imp->stop = 1;
		pthread_cond_broadcast(&imp->cv);
		pthread_mutex_unlock(&imp->mu);
		pthread_join(imp->thread, NULL);
		pthread_cond_destroy(&imp->cv);
		pthread_mutex_destroy(&imp->cb_mu);
		pthread_mutex_destroy(&imp->mu);
	}
	rs_runs_free(imp->set[0].runs);
	rs_runs_free(imp->set[1].runs);
	while (imp->nspare_batch)
		rs_batch_free(imp->spare_batch[--imp->nspare_batch]);
	while (imp->nspare_buf)
		free(imp->spare_buf[--imp->nspare_buf]);
	free(imp->spare_batch);
	free(imp->spare_buf);
	free(imp->srcs);
	free(imp->reading);
	free(imp);
}

int rs_import_log(rs_store *s, const char *path, const rs_import_opts *opts,
                  rs_import_counts *counts, rs_error *err)
{
	rs_import *imp;
	int rc;

	memset(counts, 0, sizeof *counts);
	if ((rc = rs_import_begin(s, opts, &imp, err)))
		return rc;
	rc = rs_import_add(imp, path, counts, err);
	if (rc == 0)
		rc = rs_import_commit(imp, err);
	rs_import_free(imp);
	return rc;
}

int rs_import_add(rs_import *imp, const char *path, rs_import_counts *counts, rs_error *err)
{
	const rs_import_opts *opts = imp->opts;
	importer im = { .imp = imp, .s = imp->s, .opts = opts, .counts = counts };
	uint64_t lineno;
	unsigned open_line = 0;
	int rc;

	memset(counts, 0, sizeof *counts);
	if ((rc = parser_new(&im.ps, opts))) {
		rs_error_set(err, rc, "out of memory");
		goto free_parser;
	}
	im.lr.csv = opts->format == RS_IN_DUMP_CSV;
	im.lr.cap = BUF_SIZE;
	pthread_mutex_lock(&imp->mu);
	if (imp->nspare_buf)
		im.lr.buf = imp->spare_buf[--imp->nspare_buf];
	pthread_mutex_unlock(&imp->mu);
	if (im.lr.buf == NULL && (im.lr.buf = malloc(im.lr.cap)) == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto free_parser;
	}
	if ((rc = rs_input_open(&im.lr.in, path, err)))
		goto free_buf;
	int restart;
	if ((rc = resume(&im, path, &restart, err)))
		goto close_input;
	size_t bytes = opts->batch_bytes ? opts->batch_bytes : DEFAULT_BATCH_BYTES;
	size_t keys = opts->batch_keys ? opts->batch_keys : DEFAULT_BATCH_KEYS;
	pthread_mutex_lock(&imp->mu);
	if (imp->nspare_batch)
		im.batch = imp->spare_batch[--imp->nspare_batch];
	pthread_mutex_unlock(&imp->mu);
	if (im.batch == NULL && (rc = rs_batch_new(&im.batch, keys, bytes))) {
		rs_error_set(err, rc, "out of memory");
		goto close_input;
	}
	if (restart) {
		/* start again from the beginning of the input */
		if (strcmp(path, "-") == 0) {
			rc = rs_error_set(err, RS_EUSAGE,
			                  "standard input does not continue the input it was "
			                  "first seen as (use --force to read it all)");
			rs_error_locate(err, path, 0, 0);
			goto close_input;
		}
		rs_input_close(im.lr.in);
		im.lr.in = NULL;
		im.lr.start = im.lr.scan = im.lr.end = 0;
		im.lr.base = 0;
		im.lr.eof = 0;
		if ((rc = rs_input_open(&im.lr.in, path, err)))
			goto release;
	}
	lineno = im.at_start.lines;
	uint64_t read_from = im.lr.base + im.lr.start;

	rs_error long_err;
	for (;;) {
		const char *p;
		size_t len, raw_len;
		int nl;
		const rs_obs *ev;
		size_t nev;
		rs_error lerr;
		line l;

		/* absolute: a refill in next_line may move the buffer */
		uint64_t at = im.lr.base + im.lr.start;
		if (!im.lr.overlong && rs_batch_full(im.batch) &&
		    (rc = commit(&im, at, lineno, 0, 0, err)))
			goto close_input;
		if ((rc = next_line(&im.lr, &l, err)))
			goto close_input;
		if (l.p == NULL)
			break;
		if ((lineno & 0xffff) == 0)
			emit_progress(&im, path);
		uint64_t line_off = im.lr.base + (uint64_t)(l.p - im.lr.buf);
		if (l.overlong) {
			/* too long to hold: rejected, and passed on piece by piece */
			if (l.first) {
				lineno++;
				counts->lines++;
				counts->rejected++;
				rs_error_clear(&long_err);
				rs_error_set(&long_err, RS_EBADLINE, "line longer than %u bytes",
				             (unsigned)RS_MAX_LINE);
				rs_error_locate(&long_err, path, lineno, line_off);
				if (opts->strict) {
					counts->rejected--;
					rc = commit(&im, at, lineno - 1, 0, 1, err);
					counts->rejected++;
					if (rc)
						goto close_input;
					*err = long_err;
					rc = RS_ESTOPPED;
					goto close_input;
				}
			}
			emit_reject(&im, &long_err, l.p, l.len, !l.last);
			continue;
		}
		p = l.p;
		len = l.len;
		nl = l.nl;
		lineno++;
		uint64_t first_lineno = lineno;
		if (im.lr.csv)
			for (const char *q = p; (q = memchr(q, '\n', len - (size_t)(q - p))) != NULL; q++)
				lineno++; /* newlines inside quoted values */
		raw_len = len;
		if (len && p[len - 1] == '\r')
			len--;
		/* a UTF-8 byte order mark at the start of the input is skipped */
		if (line_off == 0 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
			p += 3;
			len -= 3;
			raw_len -= 3;
		}
		counts->lines += 1 + (lineno - first_lineno);
		if (is_blank(p, len)) {
			counts->blank++;
			continue;
		}
		rs_error_clear(&lerr);
		int was_header = im.ps.header_pending;
		rc = parse_record(&im.ps, p, len, &ev, &nev, &lerr);
		if (rc == RS_EBADHEADER) {
			*err = lerr;
			rs_error_locate(err, path, first_lineno, line_off + lerr.offset);
			goto close_input;
		}
		if (rc == 0 && was_header && im.ps.dump &&
		    *rs_dump_ignored_columns(im.ps.dump) && opts->on_warning) {
			rs_error w;
			rs_error_clear(&w);
			rs_error_set(&w, 0, "ignoring the dump's unknown columns %s",
			             rs_dump_ignored_columns(im.ps.dump));
			rs_error_locate(&w, path, first_lineno, line_off);
			emit_warning(&im, &w);
		}
		if (rc == RS_EBADLINE && !nl) {
			/* a last line without a newline that does not parse is still
			 * being written: leave it for a later run */
			counts->lines -= 1 + (lineno - first_lineno);
			lineno = first_lineno - 1;
			counts->pending_bytes = raw_len;
			im.lr.start = im.lr.scan = (size_t)(at - im.lr.base);
			break;
		}
		if (rc == RS_EBADLINE) {
			counts->rejected++;
			rs_error_locate(&lerr, path, first_lineno, line_off + lerr.offset);
			emit_reject(&im, &lerr, p, raw_len, 0);
			if (opts->strict) {
				/* commit what came before: a re-run resumes at this line,
				 * so the source does not count it yet */
				counts->rejected--;
				rc = commit(&im, at, first_lineno - 1, 0, 1, err);
				counts->rejected++;
				if (rc)
					goto close_input;
				*err = lerr;
				rc = RS_ESTOPPED;
				goto close_input;
			}
			continue;
		}
		if (rc) {
			rs_error_locate(err, path, first_lineno, line_off);
			rs_error_set(err, rc, "%s", lerr.text);
			goto close_input;
		}
		size_t kept = 0;
		for (size_t i = 0; i < nev; i++) {
			if (opts->shard_n > 1 && rs_shard_of(ev[i].user_id, opts->shard_n) != opts->shard_k)
				continue;
			if ((rc = rs_batch_add_obs(im.batch, &ev[i]))) {
				rs_error_set(err, rc, "out of memory");
				goto close_input;
			}
			kept++;
		}
		counts->events += kept;
		counts->other_shards += nev - kept;
		open_line = nl ? 0 : RS_SOURCE_OPEN_LINE;
	}
	counts->bytes = im.lr.base + im.lr.start - read_from;
	counts->already_done = counts->skipped_bytes > 0 && counts->lines == 0;
	/* record the progress even when nothing new was applied, unless the
	 * input held nothing complete at all; the committer commits when it is
	 * time, rs_import_commit at the end */
	if (im.lr.base + im.lr.start > 0 || rs_batch_count(im.batch))
		rc = commit(&im, im.lr.base + im.lr.start, lineno, open_line, 0, err);
	else
		rc = 0;
close_input:
	rs_input_close(im.lr.in);
release:
	if (im.cb_locked)
		pthread_mutex_unlock(&imp->cb_mu);
	pthread_mutex_lock(&imp->mu);
	/* what was not spilled is not applied: its progress is not either */
	if (im.batch) {
		rs_batch_clear(im.batch);
		if (imp->nspare_batch < imp->parsers)
			imp->spare_batch[imp->nspare_batch++] = im.batch;
		else
			rs_batch_free(im.batch);
	}
	if (im.reading) {
		for (size_t i = 0; i < imp->nreading; i++)
			if (memcmp(imp->reading[i], im.src.fingerprint, 16) == 0) {
				memmove(imp->reading[i], imp->reading[i + 1],
				        (imp->nreading - i - 1) * sizeof *imp->reading);
				imp->nreading--;
				break;
			}
	}
	pthread_cond_broadcast(&imp->cv);
	pthread_mutex_unlock(&imp->mu);
free_buf:
	if (im.lr.buf) {
		pthread_mutex_lock(&imp->mu);
		if (imp->nspare_buf < imp->parsers) {
			imp->spare_buf[imp->nspare_buf++] = im.lr.buf;
			im.lr.buf = NULL;
		}
		pthread_mutex_unlock(&imp->mu);
		free(im.lr.buf);
	}
free_parser:
	parser_free(&im.ps);
	return rc;
}
