/* The store: an LMDB environment directory.
 *
 * Named databases: "records" (key: user id bytes + code bytes, value: an
 * encoded rs_record), "meta" (the format version), and "sources" (each
 * input's progress, written in the same transaction as the records it
 * produced). */
#ifndef REWARDSTORE_STORE_H
#define REWARDSTORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/batch.h>
#include <rewardstore/error.h>
#include <rewardstore/record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The on-disk format this build writes and the newest it reads. */
/* 2: records carry change marks (a format 1 store is upgraded by the first
 * writer that opens it; its changes are marked from then on). */
#define RS_STORE_FORMAT 2

enum {
	/* Open for reading; the store must exist.  Without it the store is
	 * opened for writing, which waits until no other process has it open
	 * for writing (an flock on the directory), maps it writable, and trims
	 * the file to the pages in use on close. */
	RS_STORE_RDONLY = 1 << 0,
	RS_STORE_NOSYNC = 1 << 1  /* do not fsync commits (bulk loads) */
};

typedef struct rs_store rs_store;

int rs_store_open(rs_store **out, const char *path, unsigned flags,
                  rs_error *err);
/* The same with the map's initial size in bytes (0: 1 GiB); a full map is
 * grown anyway, so this matters only to tests and to address space. */
int rs_store_open_sized(rs_store **out, const char *path, unsigned flags,
                        uint64_t map_size, rs_error *err);
void rs_store_close(rs_store *s);

/* An input's progress, identified by a fingerprint of its content. */
typedef struct rs_source {
	uint8_t fingerprint[16];
	uint64_t bytes;      /* bytes of the (decompressed) input applied */
	uint64_t lines;      /* lines applied, bad and blank ones included */
	uint64_t events;     /* observations applied */
	uint64_t rejected;   /* bad lines seen */
	uint64_t tail_hash;  /* hash of the (up to) 64 bytes before `bytes` */
	uint64_t flags;      /* RS_SOURCE_* */
	char name[200];      /* the name it was last read under, for stats */
	/* not stored: the bytes the stored progress must still say when this
	 * is written, or RS_SOURCE_ANY; another import of the same input that
	 * moved it in between makes the write fail with RS_ECONFLICT */
	uint64_t expect_bytes;
} rs_source;

#define RS_SOURCE_ANY UINT64_MAX

/* The last line applied had no newline (it parsed, so it was applied); a
 * newline found there later ends it, and is not a new line. */
#define RS_SOURCE_OPEN_LINE 1u
/* The input ended inside a line longer than RS_MAX_LINE (rejected, and
 * counted, when it began): what follows up to the next newline is the
 * rest of that line, not a line of its own. */
#define RS_SOURCE_LONG_LINE 2u

/* Look a source up; returns 0, MDB_NOTFOUND, or an error. */
int rs_store_source_get(rs_store *s, const uint8_t fp[16], rs_source *out,
                        rs_error *err);

/* Merge the batch into the records and write the sources' progress, all in
 * one transaction.  A full map is grown and the transaction retried; any
 * other failure leaves the store as it was at the last commit. */
int rs_store_apply(rs_store *s, rs_batch *b, const rs_source *src,
                   size_t nsrc, rs_error *err);

/* Merge the sorted runs into the records and write the sources' progress,
 * all in one transaction (see include/rewardstore/runs.h): the runs are
 * read merged in key order and each key is written once.  The map is
 * grown first so that the transaction fits; a full map is grown anyway
 * and the transaction run again; any other failure leaves the store as it
 * was at the last commit.  The runs are left as they are. */
typedef struct rs_runs rs_runs;
int rs_store_apply_runs(rs_store *s, rs_runs *runs, const rs_source *src, size_t nsrc,
                        rs_error *err);

/* The store's directory, as it was opened. */
const char *rs_store_path(const rs_store *s);

typedef struct rs_merge_counts {
	uint64_t records;        /* records folded in this run */
	uint64_t observations;   /* their observation counts */
	int already_merged;      /* the store was merged before, unchanged */
	int resumed;             /* an interrupted merge was finished */
} rs_merge_counts;

/* Fold the records and sources of the store at src_path into s, with the
 * same merge.  Each batch commits with the merge's progress, so a crash
 * resumes where it stopped and a store merged again unchanged applies
 * nothing; one that changed since is refused unless force (its earlier
 * observations would be counted twice). */
int rs_store_merge(rs_store *s, const char *src_path, int force, size_t batch_keys,
                   rs_merge_counts *counts, rs_error *err);


/* A read-only cursor over the records of one snapshot. */
typedef struct rs_cursor rs_cursor;
int rs_cursor_open(rs_store *s, rs_cursor **out, rs_error *err);
/* Position before the first key >= key (for --user); then rs_cursor_next. */
int rs_cursor_seek(rs_cursor *c, const uint8_t *key, size_t key_len,
                   rs_error *err);
/* Returns 1 and fills key/record (valid until the next call), 0 at the end,
 * or a negative status. */
int rs_cursor_next(rs_cursor *c, const uint8_t **key, size_t *key_len,
                   rs_record *r, rs_error *err);
/* The transaction the cursor reads: two cursors with the same one read the
 * same snapshot. */
uint64_t rs_cursor_snapshot(const rs_cursor *c);
void rs_cursor_close(rs_cursor *c);

/* Change marks, for export --changed-since: *from is the first run since
 * which every change of an exported row is marked (0: none is, a store
 * of format 1 no writer of format 2 has opened), *last the last run the
 * history holds.  A run R can be answered for when from > 0 and
 * from - 1 <= R <= last. */
int rs_store_marks(rs_store *s, uint64_t *from, uint64_t *last, rs_error *err);

/* From now, the store's catalog as the caller read it: the catalog as it
 * was right after run `since` (*then), and the set of codes whose entry a
 * load after that run added, changed or removed (*changed: look them up
 * with rs_catalog_find; their ids and names mean nothing).  Both to free
 * with rs_catalog_free. */
struct rs_catalog;
int rs_store_catalog_at(rs_store *s, uint64_t since, const struct rs_catalog *now,
                        struct rs_catalog **then, struct rs_catalog **changed, rs_error *err);

/* The import history: one entry per run, in order, as text the program
 * composes (the library does not interpret it). */
int rs_store_history_add(rs_store *s, const char *text, size_t len, rs_error *err);
int rs_store_history(rs_store *s,
                     int (*fn)(void *ctx, uint64_t run, const char *text, size_t len),
                     void *ctx, rs_error *err);

typedef struct rs_store_stats {
	uint64_t records;
	uint64_t users;
	uint64_t codes;          /* distinct character codes */
	uint64_t observations;
	uint64_t dump_rows;
	uint64_t multi_id;       /* records that saw several character_ids */
	uint64_t sources;
	uint64_t rejected;       /* bad lines over all sources */
	uint64_t map_size;
	uint64_t file_size;
} rs_store_stats;

int rs_store_stats_get(rs_store *s, rs_store_stats *st, rs_error *err);

/* Call fn for each source, in fingerprint order, in one snapshot. */
int rs_store_sources(rs_store *s,
                     int (*fn)(void *ctx, const rs_source *src), void *ctx,
                     rs_error *err);

#ifdef __cplusplus
}
#endif
#endif
