/* The import pipeline: input file -> lines (with offsets) -> observations ->
 * a pre-merged batch -> records in the store, together with the source's
 * progress, in one transaction per batch. */
#ifndef REWARDSTORE_IMPORT_H
#define REWARDSTORE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/error.h>
#include <rewardstore/store.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rs_import_counts;
struct rs_runs;
typedef struct rs_import_counts {
	uint64_t bytes;      /* input bytes read this run (decompressed) */
	uint64_t lines;      /* lines read this run */
	uint64_t blank;      /* of which blank */
	uint64_t events;     /* observations applied */
	uint64_t rejected;   /* bad lines */
	uint64_t skipped_bytes; /* bytes already applied by an earlier run */
	uint64_t pending_bytes; /* an unfinished last line left unconsumed */
	uint64_t other_shards;  /* events of users in other shards, skipped */
	uint64_t range_start;   /* a byte range's: where its first line starts */
	int already_done;    /* the whole input had been applied before */
} rs_import_counts;

/* Called for each bad line: err names the source, line and reason; line is
 * the line's bytes as read (without its line ending).  A line too long to
 * hold (RS_MAX_LINE) comes in pieces: more is 1 while pieces follow, and
 * err is the same for all of them. */
typedef void (*rs_reject_fn)(void *ctx, const rs_error *err, const char *line,
                             size_t len, int more);

/* The longest line the importer holds: a longer one is rejected and
 * streamed to the reject callback, so memory stays bounded by this, not by
 * the input. */
#define RS_MAX_LINE ((4u << 20) - 4096)

/* Called with a warning about an input (an ignored dump column, ...). */
typedef void (*rs_warn_fn)(void *ctx, const rs_error *warning);

/* Called now and then during an import: bytes read from the file (for
 * compressed input, compressed bytes), its size when known (else 0), and
 * the counts so far. */
typedef void (*rs_progress_fn)(void *ctx, const char *path, uint64_t read,
                               uint64_t size, const struct rs_import_counts *counts);

typedef enum rs_input_format {
	RS_IN_LOG,        /* JSON Lines reward log */
	RS_IN_DUMP_CSV,   /* COPY ... (FORMAT csv, HEADER) */
	RS_IN_DUMP_TEXT   /* COPY ... text format */
} rs_input_format;

typedef struct rs_import_opts {
	rs_input_format format;
	int text_header;             /* a text dump's first line names columns */
	int strict;                  /* stop at the first bad line */
	int force;                   /* re-read inputs already applied */
	uint32_t shard_k, shard_n;   /* keep users of shard k of n (n 0 or 1: all) */
	int32_t default_offset_min;  /* RS_TZ_NONE or --default-tz */
	size_t batch_keys;           /* 0: the default */
	size_t batch_bytes;          /* 0: the default */
	/* Commit after about this many observations (0: the default, 16
	 * million).  A commit is what a crash falls back to; between commits
	 * each B-tree page is copied once, so fewer commits write less. */
	uint64_t commit_events;
	/* How many rs_import_add calls may run at once, from as many threads
	 * (0: 1).  Each holds a batch and a line buffer. */
	size_t parsers;
	/* A plain log at least twice this long is cut into segments of about
	 * this many bytes that any of the parsers may read (0: the default,
	 * 16 MiB); see rs_import_help. */
	size_t segment_bytes;
	/* A byte range of one plain input (range_to 0: the whole input), as
	 * a map task reads it: the lines that start in [range_from,
	 * range_to), numbered from 1 at the range's first line, whatever an
	 * earlier run applied.  The source is the input's (its fingerprint)
	 * and its progress says where the range's lines end. */
	uint64_t range_from, range_to;
	/* Where each commit's sorted runs go instead of the store's records
	 * (a map task's partition files, with no B-tree in between): called
	 * in the committer thread before the sources' progress is written to
	 * the store in a transaction of its own.  It may keep the runs: it
	 * takes *runs and puts an empty set (rs_runs_new) in its place.
	 * Returns 0 or a status with err filled. */
	int (*on_runs)(void *runs_ctx, struct rs_runs **runs, rs_error *err);
	void *runs_ctx;
	rs_reject_fn on_reject;
	rs_warn_fn on_warning;
	rs_progress_fn on_progress;
	void *ctx;
} rs_import_opts;

/* The shard of a user id: FNV-1a (64-bit) of its 16 bytes, modulo n.  A
 * documented, stable function, so that machines agree on it. */
uint32_t rs_shard_of(const uint8_t user[16], uint32_t n);

/* An import of one or more inputs (plain, gzip or zstd; "-" is standard
 * input), as opts->format says.  Its inputs are applied in one transaction
 * that commits every opts->commit_events observations and at
 * rs_import_commit, with every input's progress: until a commit, nothing
 * of them is in the store.  opts must outlive the import.
 *
 * rs_import_add may be called from up to opts->parsers threads at once;
 * callbacks still come one at a time.  Two inputs with the same first line
 * (the same source) are read one after the other.
 *
 * rs_import_add returns 0 when the input was read to its end (bad lines are
 * counted, not errors), RS_ESTOPPED when strict mode stopped at a bad line
 * (what came before it is committed), or another status for an error that
 * stopped the import (what the transaction holds is committed when the
 * import is freed: it is a prefix of each input).  rs_import_free commits
 * what rs_import_commit did not, unless a failure came first. */
typedef struct rs_import rs_import;
int rs_import_begin(rs_store *s, const rs_import_opts *opts, rs_import **out,
                    rs_error *err);
int rs_import_add(rs_import *imp, const char *path, rs_import_counts *counts,
                  rs_error *err);
/* Read segments of the inputs other threads are adding, until none is
 * left: a parser thread with no input of its own calls this before it
 * ends.  What it reads is counted, and its errors reported, by the
 * rs_import_add call of the input. */
void rs_import_help(rs_import *imp);
int rs_import_commit(rs_import *imp, rs_error *err);
void rs_import_free(rs_import *imp);

/* One input, begun, added and committed. */
int rs_import_log(rs_store *s, const char *path, const rs_import_opts *opts,
                  rs_import_counts *counts, rs_error *err);

#ifdef __cplusplus
}
#endif
#endif
