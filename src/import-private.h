/* Private: what the files of the import pipeline share.  import.c reads
 * an input's lines into a batch (rs_import_add) and owns the import's
 * life; resume.c finds where an input resumes; commit.c spills batches as
 * runs and commits them with the sources' progress in a thread of its
 * own; segments.c reads a large input in segments any parser takes;
 * parser.c turns a line into observations.  The public face is
 * include/rewardstore/import.h. */
#ifndef RS_IMPORT_PRIVATE_H
#define RS_IMPORT_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include <rewardstore/batch.h>
#include <rewardstore/dump.h>
#include <rewardstore/event.h>
#include <rewardstore/import.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "input.h"
#include "lines.h"

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
#define TAIL_PIECES 4     /* the last segment of an input cut in so many */
/* rejects of a segment held back until the segments before it are done */
#define MAX_HELD_REJECTS (1u << 20)
#define MAX_RUNS 4096


/* The reader of an input's records: the JSON event reader or the dump
 * reader (parser.c). */
typedef struct rs_parser {
	rs_input_format format;
	rs_event_reader *events;
	rs_dump_reader *dump;
	int header_pending;    /* a dump whose header has not been read */
} rs_parser;

int rs_parser_new(rs_parser *ps, const rs_import_opts *opts);
void rs_parser_free(rs_parser *ps);
int rs_parser_parse(rs_parser *ps, const char *p, size_t n, const rs_obs **ev,
                    size_t *nev, rs_error *err);


/* An import.  Parsers (the threads calling rs_import_add) fill a batch
 * each, pack it and append it as a run to the current run set, noting
 * their input's progress with it.  Every commit_events observations the
 * set is handed to the committer thread, which merges its runs into the
 * store in one transaction with that progress, while the parsers go on
 * into the other set.  So what a commit holds is always a prefix of each
 * input, and parsing never waits for the B-tree unless a second set fills
 * before the first is merged. */
typedef struct rs_run_set {
	rs_runs *runs;
	uint64_t since;       /* observations in the runs */
	int dirty;            /* progress of some source is in it */
} rs_run_set;

/* A large plain input is read in segments: lines starting in [from, to)
 * (the last one: to the end of the input), which any parser takes from the
 * import's queue, so that parsers end together however the inputs' sizes
 * and the cores' speeds differ.  The owner -- the rs_import_add call that
 * opened the input -- reads the first segment itself, in the usual way.
 * The others' batches go into the runs with no progress; when a segment is
 * done and every one before it is too, the source's progress moves to its
 * end.  So the progress a commit holds is still a prefix of each input,
 * and whatever lies past it in the commit is read again after a crash,
 * which the merge's idempotence (doc/CONTRACT.md section 3) makes harmless.  Line
 * numbers count from a segment's start and get the lines before it added
 * once those segments are done: rejects are held back until then (up to
 * MAX_HELD_REJECTS bytes, then the segment waits), so they come in order. */
#define RS_NO_END UINT64_MAX
struct rs_split;
typedef struct rs_segment {
	struct rs_split *sp;
	size_t k;              /* its index */
	uint64_t from, to;
	struct rs_segment *next;  /* in the import's queue */
	int done;
	/* when done */
	rs_import_counts counts;
	uint64_t end;          /* where the next segment's first line starts, or
	                        * RS_NO_END: no line starts in this one */
	uint64_t tail_hash;    /* of the bytes before end */
	unsigned open_line;    /* RS_SOURCE_OPEN_LINE: it ended in a line with no newline */
	int uncovered;         /* it spilled records that no progress covers yet */
	int rc;
	rs_error err;
} rs_segment;

typedef struct rs_split {
	const char *path;
	rs_input *in;          /* the owner's: segments read it with pread */
	rs_source src;         /* the owner's progress, for what a segment notes */
	rs_source at_start;
	rs_segment *seg;
	size_t nseg;
	size_t nfinished;      /* segments 0 .. nfinished-1 are done */
	size_t nprogress;      /* ... and the progress reaches the end of these */
	size_t ncovered;       /* segments whose uncovered marks are counted off */
	uint64_t lines_before; /* lines before segment nfinished */
} rs_split;

/* every source this import has read */
typedef struct rs_src_entry {
	rs_source cur;        /* the progress handed over last: where a second
	                       * reading of the same input in this import resumes */
	uint64_t stored;      /* its bytes in the store as of its last commit: a
	                       * commit checks the store still says so */
	rs_source prog[2];    /* its progress in each run set */
	int dirty[2];
} rs_src_entry;

struct rs_import {
	rs_store *s;
	const rs_import_opts *opts;
	uint64_t commit_events;
	pthread_mutex_t mu;   /* guards all that follows */
	pthread_cond_t cv;
	rs_run_set set[2];
	int cur;              /* the set parsers append to */
	int merging;          /* the other set is being merged */
	uint64_t merge_gen, done_gen; /* merges asked for, and finished */
	int stop;
	int rc;               /* the first failure of a merge, kept */
	rs_error err;
	rs_src_entry *srcs;
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
	rs_segment *queue, **queue_end;
	size_t adding;
	size_t segment_bytes;
	/* Segments after an input's first spill records with no progress:
	 * uncovered counts those whose records no progress covers yet.  A
	 * commit never holds such records when it can help it (a crash would
	 * re-apply them and count their observations twice): a set that fills
	 * meanwhile is commit_due, no new segment is started, and the commit
	 * happens when the segments being read are done. */
	size_t uncovered;
	int commit_due;
	pthread_t thread;
	int started;          /* mu, cv and the committer thread exist */
	/* inputs read at once call back one at a time */
	pthread_mutex_t cb_mu;
};

/* One input of an import. */
typedef struct rs_importer {
	rs_import *imp;
	rs_store *s;
	const rs_import_opts *opts;
	rs_batch *batch;      /* being filled */
	int reading;          /* its fingerprint is in imp->reading */
	int cb_locked;        /* holds cb_mu between pieces of an overlong line */
	int skip_long;        /* resumed inside an overlong line (RS_SOURCE_LONG_LINE) */
	rs_parser ps;
	rs_source src;        /* progress as committed next */
	rs_source at_start;   /* progress before this run */
	rs_import_counts *counts;
	rs_line_reader lr;
	rs_segment *seg;         /* the segment read, or NULL: the whole input */
	/* a segment after the first: its line numbers are relative until the
	 * segments before it are done, and its rejects are held until then */
	int base_known;
	uint64_t line_base;
	struct rs_held *held, **held_end;
	size_t held_bytes;
} rs_importer;

/* a reject held back */
typedef struct rs_held {
	struct rs_held *next;
	rs_error err;
	size_t len;
	char line[];
} rs_held;

/* ---- commit.c ---- */
rs_src_entry *rs_import_find_source(rs_import *imp, const uint8_t fp[16]);
/* With imp->mu held: set c holds src's progress. */
int rs_import_note_source(rs_import *imp, int c, const rs_source *src);
/* The committer thread's body. */
void *rs_import_committer(void *arg);
/* With imp->mu held: hand the current set to the committer (after the one
 * before it is merged), if wait or if it is full; with wait, return when
 * it is merged too. */
int rs_import_hand_over(rs_import *imp, int wait);
/* The input up to the absolute offset at, where a line starts, is in the
 * batch: spill the batch as a run with that progress.  With wait, return
 * only when it is committed, saying how that went. */
int rs_import_spill(rs_importer *im, uint64_t at, uint64_t lines, unsigned flags, int wait,
                    rs_error *err);

/* ---- resume.c ---- */
/* Find where this input resumes (fingerprint, stored progress, the tail
 * check); *restart when the input must be read again from its start. */
int rs_import_resume(rs_importer *im, const char *path, int *restart, rs_error *err);

/* ---- importer.c ---- */
/* Read lines into the batch until one starts at or past limit, or the
 * input ends; *lineno is the number of the line read last. */
int rs_import_read_lines(rs_importer *im, const char *path, uint64_t limit, uint64_t *lineno,
                         unsigned *open_line, rs_error *err);
/* The import's pool of line buffers and batches. */
char *rs_import_take_buf(rs_import *imp);
int rs_import_take_batch(rs_import *imp, rs_batch **out);
void rs_import_give_back(rs_importer *im);
/* A segment's line base: wait until the segments before it are done, then
 * pass on the rejects held back meanwhile. */
void rs_import_know_base(rs_importer *im);

/* ---- segments.c ---- */
/* Cut what is left of the input, from offset at, into segments (the first
 * for the owner, the others queued); NULL when it is not worth it. */
rs_split *rs_import_split(rs_importer *im, const char *path, uint64_t at);
/* With imp->mu held: segment sg is done. */
void rs_import_segment_done(rs_import *imp, rs_segment *sg);
/* The owner's end of a split input: wait for the segments, add up. */
int rs_import_split_finish(rs_importer *im, rs_split *sp, int rc, rs_error *err);

#endif
