/* Sorted runs: packed batches (rs_batch_pack) spilled, one after another,
 * to an unnamed file in the store's directory, and read back merged in key
 * order.  An import applies a whole stretch of input to the store in one
 * pass of the B-tree this way: with many keys per leaf, each leaf is found
 * once and copied once, and a key seen in many batches is merged in memory
 * and written once.  The file is page cache, not the heap: the importer's
 * anonymous memory stays flat however long the stretch. */
#ifndef REWARDSTORE_RUNS_H
#define REWARDSTORE_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include <rewardstore/batch.h>
#include <rewardstore/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rs_runs rs_runs;

/* An empty set of runs in an unnamed file in dir: it disappears with the
 * process, however that ends. */
int rs_runs_new(rs_runs **out, const char *dir, rs_error *err);
void rs_runs_free(rs_runs *r);

/* Append b, packed (rs_batch_pack is called if it was not), as a run. */
int rs_runs_add(rs_runs *r, rs_batch *b, rs_error *err);

size_t rs_runs_count(const rs_runs *r);
uint64_t rs_runs_bytes(const rs_runs *r);

/* Append one entry to a run that rs_runs_append begins and
 * rs_runs_append_end ends: entries must come in key order.  This is how a
 * merged stream becomes a run again. */
int rs_runs_append(rs_runs *r, const uint8_t *key, size_t key_len, const uint8_t *val,
                   size_t val_len, rs_error *err);
int rs_runs_append_end(rs_runs *r, rs_error *err);

/* Reading appended entries while another thread appends them: the writer
 * tells the follower (under a lock of the caller's) how many bytes of the
 * file are written -- rs_runs_bytes after an append -- and the follower
 * reads the whole entries before that point.  open before the writer
 * starts; next returns 1 and an entry, 0 when no whole entry lies before
 * written (wait for more, or it is the end), or RS_ECORRUPT/an errno;
 * pointers hold until the next call. */
typedef struct rs_runs_follower rs_runs_follower;
int rs_runs_follower_open(const rs_runs *r, rs_runs_follower **out, rs_error *err);
int rs_runs_follower_next(rs_runs_follower *f, uint64_t written, const uint8_t **key,
                          size_t *key_len, const uint8_t **val, size_t *val_len,
                          rs_error *err);
/* Whether bytes read are left that make no whole entry (at the end: a
 * damaged run). */
int rs_runs_follower_partial(const rs_runs_follower *f);
void rs_runs_follower_close(rs_runs_follower *f);

/* The key space in two parts, cut at user ids from RS_RUNS_SPLIT: two
 * threads can merge the two parts of the same runs at once.  The store's
 * committer folds and writes the low part, then writes the high part as
 * the other thread folds it (it writes every key, so it takes the smaller
 * part to fold): with random user ids, 0x50 leaves it 31% of the keys,
 * where the two threads' work came out about even (doc/DESIGN.md). */
#define RS_RUNS_SPLIT 0x50
typedef enum rs_runs_part { RS_RUNS_ALL, RS_RUNS_LOW, RS_RUNS_HIGH } rs_runs_part;

/* A reader of every entry of every run (or of the part's half of each),
 * in key order; entries with equal keys come one after the other.  The
 * pointers next gives stay valid until the reader is closed; next returns
 * 1, 0 at the end, or RS_ECORRUPT when a run is damaged.  Several readers
 * may read the same runs at once. */
typedef struct rs_runs_reader rs_runs_reader;
int rs_runs_reader_open(rs_runs *r, rs_runs_part part, rs_runs_reader **out,
                        rs_error *err);
int rs_runs_reader_next(rs_runs_reader *rd, const uint8_t **key, size_t *key_len,
                        const uint8_t **val, size_t *val_len);
void rs_runs_reader_close(rs_runs_reader *rd);

/* Empty the file for the next stretch. */
int rs_runs_clear(rs_runs *r, rs_error *err);

#ifdef __cplusplus
}
#endif
#endif
