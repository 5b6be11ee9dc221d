/* Partition files: what a map task writes and a reduce folds into a store.
 *
 * The key space is cut into N contiguous ranges of the key order (by the
 * first eight bytes of the user id), so partition K holds the keys of the
 * K-th range and partition order is export order.  A file holds one
 * partition's folded records, sorted, with the sources they came from, and
 * is checksummed end to end: it is read and checked whole before any of it
 * is used, so a damaged or truncated file is refused, never half-applied.
 * doc/FORMATS.md gives the layout. */
#ifndef REWARDSTORE_PART_H
#define REWARDSTORE_PART_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/error.h>
#include <rewardstore/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The layout this build writes and the newest it reads. */
#define RS_PART_FORMAT 1
/* The most partitions a job may have. */
#define RS_PART_MAX 4096

/* The partition of n that holds key (a key starts with the user id). */
uint32_t rs_part_of(const uint8_t *key, uint32_t n);

/* A source a partition file covers: its progress as an import records it
 * (rs_source), and where the lines it covers start (0 for a whole input or
 * the resumed part of one, else the start of a byte range). */
typedef struct rs_part_source {
	rs_source src;
	uint64_t from;
} rs_part_source;

/* Write a store's records as partition files: every k of n, to paths[k],
 * or only partition `only` (paths[0]) when only < n.  Each file is written
 * beside its name, synced (unless flags has RS_PART_NOSYNC: a map's
 * output, which a failed job writes again anyway) and renamed into place
 * when whole, so a reader never sees half of one.  The files list the
 * sources given. */
#define RS_PART_ALL UINT32_MAX
#define RS_PART_NOSYNC 1u
int rs_part_write_store(rs_store *s, uint32_t n, uint32_t only, unsigned flags,
                        const char *const *paths, const rs_part_source *src, size_t nsrc,
                        uint64_t *records, rs_error *err);

/* Write sorted runs (an import's, as its sink received them) as partition
 * files: every k of n, to paths[k], the entries of a key folded into one
 * record; otherwise as rs_part_write_store.  runs may be NULL: files with
 * no records. */
struct rs_runs;
int rs_part_write_runs(struct rs_runs *runs, uint32_t n, unsigned flags,
                       const char *const *paths, const rs_part_source *src, size_t nsrc,
                       uint64_t *records, rs_error *err);

/* The store's sources as a partition file lists them, each with from
 * (*out to free). */
int rs_part_store_sources(rs_store *s, uint64_t from, rs_part_source **out, size_t *n,
                          rs_error *err);

/* A partition file of partition k of n with the sources alone, no
 * records (what 'map --since' reads). */
int rs_part_write_sources(const char *path, uint32_t n, uint32_t k, const rs_part_source *src,
                          size_t nsrc, rs_error *err);

/* A partition file read and checked whole. */
typedef struct rs_part rs_part;

/* Read the file at path (mapped) and check all of it: magic, format,
 * checksum, every entry (sorted keys of partition k, records that decode).
 * err names the file and the byte offset of what is wrong. */
int rs_part_open(rs_part **out, const char *path, rs_error *err);
/* The same over bytes in memory (kept by the caller while p is used);
 * name is used in messages. */
int rs_part_open_mem(rs_part **out, const uint8_t *data, size_t len, const char *name,
                     rs_error *err);
void rs_part_close(rs_part *p);

uint32_t rs_part_n(const rs_part *p);
uint32_t rs_part_k(const rs_part *p);
uint64_t rs_part_records(const rs_part *p);
/* The observations its records count (rs_record.n_obs, summed). */
uint64_t rs_part_observations(const rs_part *p);
size_t rs_part_nsources(const rs_part *p);
const rs_part_source *rs_part_source_at(const rs_part *p, size_t i);
/* 16 bytes that tell this file's content from any other's. */
const uint8_t *rs_part_id(const rs_part *p);
const char *rs_part_name(const rs_part *p);
/* The entries in key order: *pos starts at 0; returns 1 with the key and
 * its encoded record, 0 at the end. */
int rs_part_next(const rs_part *p, size_t *pos, const uint8_t **key, size_t *key_len,
                 const uint8_t **val, size_t *val_len);

typedef struct rs_reduce_counts {
	uint64_t records;        /* records folded in */
	uint64_t observations;   /* their observation counts */
	int already_applied;     /* the same file was folded in before */
} rs_reduce_counts;

/* Fold a partition file into the store in one transaction: its records
 * merged into the stored ones, its sources recorded (a range's under an
 * identity of its own), and a mark that makes folding the same file again
 * change nothing.  A store takes the partitions of one (N, K) only: the
 * first file stamps it, a file of another N or K is refused. */
int rs_store_reduce(rs_store *s, const rs_part *p, rs_reduce_counts *counts, rs_error *err);

/* The (N, K) a store was stamped with by its first reduce; 0 and *n = 0
 * when it has none. */
int rs_store_partition(rs_store *s, uint32_t *n, uint32_t *k, rs_error *err);

/* A streaming merge of partition files of one (N, K) -- a compaction, as
 * LevelDB's -- into one partition file and/or an export, in one pass and
 * in memory that does not grow with the files: the state's run and the
 * map tasks' new runs of a partition become the next state's run and the
 * partition's part of the export, with no store in between.  Each key's
 * records are merged by rs_record_merge; the sources are folded as
 * rs_store_reduce folds them. */
typedef struct rs_part_merge_opts {
	const char *out;         /* write the merged partition file here, or NULL */
	unsigned flags;          /* RS_PART_NOSYNC: do not sync it */
	struct rs_rows *rows;    /* give each merged record to this export, or NULL */
} rs_part_merge_opts;

typedef struct rs_part_merge_counts {
	uint64_t records;        /* keys written */
	uint64_t observations;   /* their observation counts */
	size_t sources;          /* sources listed */
} rs_part_merge_counts;

/* in: nin >= 1 files, opened and checked (rs_part_open), of the same N
 * and K (else RS_EUSAGE naming two of them). */
int rs_part_merge(rs_part *const *in, size_t nin, const rs_part_merge_opts *opts,
                  rs_part_merge_counts *counts, rs_error *err);

#ifdef __cplusplus
}
#endif
#endif
