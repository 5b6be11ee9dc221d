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
#define DEFAULT_COMMIT_EVENTS 16000000
#define MAX_RUN_BYTES (4ULL << 30)
/* A plain input at least twice this long is read in segments of about this
 * many bytes, which any parser takes (doc/DESIGN.md, "Segments") */
#define DEFAULT_SEGMENT_BYTES (16u << 20)
#define MAX_SEGMENTS 4096
/* rejects of a segment held back until the segments before it are done */
#define MAX_HELD_REJECTS (1u << 20)
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
	int pread;               /* a segment's: pread at base + end, not read() */
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
	if ((rc = lr->pread ? rs_input_pread(lr->in, lr->buf + lr->end, lr->cap - lr->end,
	                                     lr->base + lr->end, &got, err)
	                    : rs_input_read(lr->in, lr->buf + lr->end, lr->cap - lr->end, &got, err)))
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

/* A large plain input is read in segments: lines starting in [from, to)
 * (the last one: to the end of the input), which any parser takes from the
 * import's queue, so that parsers end together however the inputs' sizes
 * and the cores' speeds differ.  The owner -- the rs_import_add call that
 * opened the input -- reads the first segment itself, in the usual way.
 * The others' batches go into the runs with no progress; when a segment is
 * done and every one before it is too, the source's progress moves to its
 * end.  So the progress a commit holds is still a prefix of each input,
 * and whatever lies past it in the commit is read again after a crash,
 * which the merge's idempotence (SPEC section 3) makes harmless.  Line
 * numbers count from a segment's start and get the lines before it added
 * once those segments are done: rejects are held back until then (up to
 * MAX_HELD_REJECTS bytes, then the segment waits), so they come in order. */
#define NO_END UINT64_MAX
struct split;
typedef struct segment {
	struct split *sp;
	size_t k;              /* its index */
	uint64_t from, to;
	struct segment *next;  /* in the import's queue */
	int done;
	/* when done */
	rs_import_counts counts;
	uint64_t end;          /* where the next segment's first line starts, or
	                        * NO_END: no line starts in this one */
	uint64_t tail_hash;    /* of the bytes before end */
	unsigned open_line;    /* RS_SOURCE_OPEN_LINE: it ended in a line with no newline */
	int rc;
	rs_error err;
} segment;

typedef struct split {
	const char *path;
	rs_input *in;          /* the owner's: segments read it with pread */
	rs_source src;         /* the owner's progress, for what a segment notes */
	rs_source at_start;
	segment *seg;
	size_t nseg;
	size_t nfinished;      /* segments 0 .. nfinished-1 are done */
	size_t nprogress;      /* ... and the progress reaches the end of these */
	uint64_t lines_before; /* lines before segment nfinished */
} split;

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
	/* segments waiting for a parser, in order; rs_import_add calls that
	 * have not yet said whether they queue any (helpers wait for them) */
	segment *queue, **queue_end;
	size_t adding;
	size_t segment_bytes;
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
	segment *seg;         /* the segment read, or NULL: the whole input */
	/* a segment after the first: its line numbers are relative until the
	 * segments before it are done, and its rejects are held until then */
	int base_known;
	uint64_t line_base;
	struct held *held, **held_end;
	size_t held_bytes;
} importer;

/* a reject held back */
typedef struct held {
	struct held *next;
	rs_error err;
	size_t len;
	char line[];
} held;

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
		/* a later segment's batch goes in with no progress: the source's
		 * moves when the segments before are done (segment_done) */
		int noted = im->seg == NULL || im->seg->k == 0;
		if (noted && (rc = src_note(imp, imp->cur, &im->src))) {
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
 * overlong line come together.  e's line counts from the segment's start:
 * the lines before it are added here. */
static void call_reject(importer *im, const rs_error *e, const char *p, size_t n, int more)
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
static void know_base(importer *im)
{
	rs_import *imp = im->imp;
	segment *sg = im->seg;

	if (im->base_known)
		return;
	pthread_mutex_lock(&imp->mu);
	while (sg->sp->nfinished < sg->k)
		pthread_cond_wait(&imp->cv, &imp->mu);
	im->line_base = sg->sp->lines_before;
	pthread_mutex_unlock(&imp->mu);
	im->base_known = 1;
	while (im->held) {
		held *h = im->held;
		im->held = h->next;
		call_reject(im, &h->err, h->line, h->len, 0);
		free(h);
	}
	im->held_end = &im->held;
	im->held_bytes = 0;
}

static void emit_reject(importer *im, const rs_error *e, const char *p, size_t n, int more)
{
	if (im->opts->on_reject == NULL)
		return;
	if (!im->base_known) {
		held *h;
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
		know_base(im);
	}
	call_reject(im, e, p, n, more);
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
	imp->segment_bytes = opts->segment_bytes ? opts->segment_bytes : DEFAULT_SEGMENT_BYTES;
	imp->queue_end = &imp->queue;
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

/* Read lines into the batch until one starts at or past limit, or the
 * input ends; *lineno is the number of the line read last. */
static int read_lines(importer *im, const char *path, uint64_t limit, uint64_t *lineno,
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
		line l;

		/* absolute: a refill in next_line may move the buffer */
		uint64_t at = im->lr.base + im->lr.start;
		if (!im->lr.overlong && at >= limit)
			break; /* the next segment's line */
		if (!im->lr.overlong && rs_batch_full(im->batch) &&
		    (rc = commit(im, at, *lineno, 0, 0, err)))
			return rc;
		if ((rc = next_line(&im->lr, &l, err)))
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
					rc = commit(im, at, *lineno - 1, 0, 1, err);
					counts->rejected++;
					if (rc)
						return rc;
					*err = long_err;
					rc = RS_ESTOPPED;
					return rc;
				}
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
		rc = parse_record(&im->ps, p, len, &ev, &nev, &lerr);
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
				rc = commit(im, at, first_lineno - 1, 0, 1, err);
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
static char *buf_take(rs_import *imp)
{
	char *buf = NULL;

	pthread_mutex_lock(&imp->mu);
	if (imp->nspare_buf)
		buf = imp->spare_buf[--imp->nspare_buf];
	pthread_mutex_unlock(&imp->mu);
	return buf ? buf : malloc(BUF_SIZE);
}

static int batch_take(rs_import *imp, rs_batch **out)
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
static void give_back(importer *im)
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

/* With imp->mu held: segment sg is done (its batches spilled, its rejects
 * passed on).  The segments done in a row from the first give the lines
 * before the next one; those read without error, the source's progress. */
static void segment_done(rs_import *imp, segment *sg)
{
	split *sp = sg->sp;
	size_t had = sp->nprogress;

	sg->done = 1;
	while (sp->nfinished < sp->nseg && sp->seg[sp->nfinished].done)
		sp->lines_before += sp->seg[sp->nfinished++].counts.lines;
	while (sp->nprogress < sp->nfinished && sp->seg[sp->nprogress].rc == 0)
		sp->nprogress++;
	/* not to the end of a segment no line starts in: it is not known */
	while (sp->nprogress > had && sp->seg[sp->nprogress - 1].end == NO_END)
		sp->nprogress--;
	if (sp->nprogress > had && sp->nprogress > 1) {
		/* the first segment's own batches carried its progress */
		rs_source src = sp->src;
		const segment *last = &sp->seg[sp->nprogress - 1];
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
		int rc = src_note(imp, imp->cur, &src);
		if (rc && sg->rc == 0) {
			sg->rc = rc;
			rs_error_set(&sg->err, rc, "out of memory");
		}
	}
	pthread_cond_broadcast(&imp->cv);
}

/* Start a segment's reader at its first line: the one after the first
 * newline at or after from - 1 (from > 0).  *none is set when no line
 * starts before to: the line that covers the segment is the one before's,
 * and where the next line starts is the next segment's to find (looking
 * further would read a long line once per segment it covers). */
static int seek_line(line_reader *lr, uint64_t from, uint64_t to, int *none, rs_error *err)
{
	int rc;

	*none = 0;
	lr->base = from - 1;
	lr->start = lr->scan = lr->end = 0;
	lr->eof = 0;
	for (;;) {
		char *q = memchr(lr->buf + lr->scan, '\n', lr->end - lr->scan);
		if (q && lr->base + (uint64_t)(q - lr->buf) + 1 < to) {
			lr->start = lr->scan = (size_t)(q - lr->buf) + 1;
			return 0;
		}
		lr->start = lr->scan = lr->end;
		if (q || lr->base + lr->end >= to) {
			*none = 1;
			return 0;
		}
		if (lr->eof)
			return 0; /* the input ends in it, in no line or a last one */
		if ((rc = fill(lr, err)))
			return rc;
	}
}

/* Read a segment after the first, in whichever parser took it. */
static void run_segment(rs_import *imp, segment *sg)
{
	split *sp = sg->sp;
	importer im = { .imp = imp, .s = imp->s, .opts = imp->opts, .counts = &sg->counts,
	                .seg = sg };
	uint64_t lineno = 0;
	unsigned open_line = 0;
	int rc;

	im.held_end = &im.held;
	rs_error_clear(&sg->err);
	memset(&sg->counts, 0, sizeof sg->counts);
	im.lr.in = sp->in;
	im.lr.pread = 1;
	im.lr.cap = BUF_SIZE;
	if ((rc = parser_new(&im.ps, imp->opts)) || (im.lr.buf = buf_take(imp)) == NULL ||
	    (rc = batch_take(imp, &im.batch))) {
		rc = rs_error_set(&sg->err, RS_ENOMEM, "out of memory");
		goto done;
	}
	int none;
	if ((rc = seek_line(&im.lr, sg->from, sg->to, &none, &sg->err)))
		goto done;
	if (none) {
		sg->end = NO_END;
		goto done;
	}
	uint64_t start = im.lr.base + im.lr.start;
	if ((rc = read_lines(&im, sp->path, sg->to, &lineno, &open_line, &sg->err)))
		goto done;
	sg->end = im.lr.base + im.lr.start;
	sg->tail_hash = tail_hash(&im.lr, sg->end);
	sg->open_line = open_line;
	sg->counts.bytes = sg->end - start;
	if (rs_batch_count(im.batch))
		rc = commit(&im, sg->end, lineno, open_line, 0, &sg->err);
done:
	/* rejects held back go before the segment counts as done: so they
	 * come in the input's order; an error's line gets the base too */
	know_base(&im);
	if (rc && sg->err.line)
		sg->err.line += im.line_base;
	if (im.cb_locked)
		pthread_mutex_unlock(&imp->cb_mu);
	give_back(&im);
	parser_free(&im.ps);
	pthread_mutex_lock(&imp->mu);
	sg->rc = rc;
	segment_done(imp, sg);
	pthread_mutex_unlock(&imp->mu);
}

/* With imp->mu held: read queued segments, for an owner until its own
 * input's are all done, for a helper until none is queued and no
 * rs_import_add may queue more. */
static void work(rs_import *imp, const split *own)
{
	for (;;) {
		if (own ? own->nfinished == own->nseg : imp->queue == NULL && imp->adding == 0)
			return;
		segment *sg = imp->queue;
		if (sg == NULL) {
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

/* Cut what is left of the input, from offset at, into segments, the first
 * for the owner and the others queued; NULL when it is not worth it or
 * cannot be (not a plain file, a dump, strict mode, one parser). */
static split *split_input(importer *im, const char *path, uint64_t at)
{
	rs_import *imp = im->imp;
	uint64_t size = rs_input_raw_size(im->lr.in), seg = imp->segment_bytes;

	if (imp->parsers < 2 || im->opts->format != RS_IN_LOG || im->opts->strict ||
	    !rs_input_seekable(im->lr.in) || size < at || size - at < 2 * seg)
		return NULL;
	/* at most MAX_SEGMENTS: a segment's state is about a kilobyte */
	if ((size - at) / seg > MAX_SEGMENTS)
		seg = (size - at + MAX_SEGMENTS - 1) / MAX_SEGMENTS;
	size_t n = (size_t)((size - at) / seg);
	split *sp = calloc(1, sizeof *sp);
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
		sp->seg[k].from = at + k * seg;
		sp->seg[k].to = k + 1 < n ? at + (k + 1) * seg : UINT64_MAX;
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
static int split_finish(importer *im, split *sp, int rc, rs_error *err)
{
	rs_import *imp = im->imp;
	rs_import_counts *counts = im->counts;

	pthread_mutex_lock(&imp->mu);
	if (rc) {
		for (segment **q = &imp->queue; *q;) {
			if ((*q)->sp == sp) {
				(*q)->rc = RS_ESTOPPED;
				segment_done(imp, *q);
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

int rs_import_add(rs_import *imp, const char *path, rs_import_counts *counts, rs_error *err)
{
	const rs_import_opts *opts = imp->opts;
	importer im = { .imp = imp, .s = imp->s, .opts = opts, .counts = counts, .base_known = 1 };
	uint64_t lineno, limit = UINT64_MAX;
	unsigned open_line = 0;
	split *sp = NULL;
	int adding = 1, rc;

	memset(counts, 0, sizeof *counts);
	im.held_end = &im.held;
	pthread_mutex_lock(&imp->mu);
	imp->adding++;
	pthread_mutex_unlock(&imp->mu);
	if ((rc = parser_new(&im.ps, opts))) {
		rs_error_set(err, rc, "out of memory");
		goto free_parser;
	}
	im.lr.csv = opts->format == RS_IN_DUMP_CSV;
	im.lr.cap = BUF_SIZE;
	if ((im.lr.buf = buf_take(imp)) == NULL) {
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
		goto free_parser;
	}
	if ((rc = rs_input_open(&im.lr.in, path, err)))
		goto free_buf;
	int restart;
	if ((rc = resume(&im, path, &restart, err)))
		goto close_input;
	if ((rc = batch_take(imp, &im.batch))) {
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
	if ((sp = split_input(&im, path, read_from)) != NULL) {
		im.seg = &sp->seg[0];
		limit = sp->seg[0].to;
	}
	pthread_mutex_lock(&imp->mu);
	imp->adding--;
	adding = 0;
	pthread_cond_broadcast(&imp->cv);
	pthread_mutex_unlock(&imp->mu);

	rc = read_lines(&im, path, limit, &lineno, &open_line, err);
	if (rc)
		goto close_input;
	counts->bytes = im.lr.base + im.lr.start - read_from;
	/* record the progress even when nothing new was applied, unless the
	 * input held nothing complete at all; the committer commits when it is
	 * time, rs_import_commit at the end */
	if (im.lr.base + im.lr.start > 0 || rs_batch_count(im.batch))
		rc = commit(&im, im.lr.base + im.lr.start, lineno, open_line, 0, err);
	else
		rc = 0;
close_input:
	if (sp) {
		segment *first = &sp->seg[0];
		first->counts = *counts;
		first->end = im.lr.base + im.lr.start;
		first->rc = rc;
		if (im.cb_locked) {
			pthread_mutex_unlock(&imp->cb_mu);
			im.cb_locked = 0;
		}
		/* the buffer and batch go back for the segments' readers */
		give_back(&im);
		pthread_mutex_lock(&imp->mu);
		segment_done(imp, first);
		pthread_mutex_unlock(&imp->mu);
		rc = split_finish(&im, sp, rc, err);
	}
	counts->already_done = counts->skipped_bytes > 0 && counts->lines == 0;
	rs_input_close(im.lr.in);
release:
	if (im.cb_locked)
		pthread_mutex_unlock(&imp->cb_mu);
	pthread_mutex_lock(&imp->mu);
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
	give_back(&im); /* the batch and the line buffer, to the next input */
free_parser:
	parser_free(&im.ps);
	if (adding) {
		pthread_mutex_lock(&imp->mu);
		imp->adding--;
		pthread_cond_broadcast(&imp->cv);
		pthread_mutex_unlock(&imp->mu);
	}
	return rc;
}
