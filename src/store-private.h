/* Private: what the files of the store share -- the environment and its
 * named databases (store.c), the one way to run a write transaction, the
 * sources' encoding (sources.c) and applying entries key by key
 * (apply.c).  The public face is
 * include/rewardstore/store.h; nothing here is installed. */
#ifndef RS_STORE_PRIVATE_H
#define RS_STORE_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include <lmdb.h>

#include <rewardstore/batch.h>
#include <rewardstore/store.h>

#include "bytes.h"

#define RS_DEFAULT_MAP_SIZE (1ULL << 30)

struct rs_store {
	MDB_env *env;
	MDB_dbi records, meta, sources, catalog, catalog_ids, history, merged;
	/* "catalog_marks": code -> the run that last changed its catalog
	 * entry (absent in a store no writer of format 2 opened yet) */
	MDB_dbi catalog_marks;
	int has_catalog_marks;
	/* Change marks (export --changed-since): the run this writer records
	 * in the history, which every record it changes is marked with; the
	 * last run recorded when it was opened; the first run since which
	 * every change is marked (0: none is) */
	uint64_t run, last_run, marks_from;
	uint8_t id[16];           /* this store's id, made when it was created */
	unsigned flags;
	char path[RS_ERROR_SOURCE_LEN];
	uint8_t *scratch;
	size_t scratch_cap;
	int lock_fd;              /* the store directory, flocked by a writer; -1 */
	/* The map may change size only with no transaction open in the
	 * process (LMDB does not check): read transactions that other threads
	 * of an import open while the committer grows the map take this too. */
	pthread_mutex_t map_mu;
};

/* ---- store.c: the environment ---- */

/* Fill err with "what: reason" located at path; returns rc. */
int rs_store_fail(rs_error *err, const char *path, int rc, const char *what);
/* Set the map's size (0: take the size another process set), under map_mu. */
int rs_store_set_mapsize(rs_store *s, uint64_t size);
/* The bytes of data.mdb that the last commit's pages take; 0 when LMDB
 * cannot say. */
uint64_t rs_store_used_bytes(MDB_env *env);

/* Every write goes through rs_store_write: begin a write transaction, let
 * body fill it, commit.  A full map aborts the transaction (nothing of it
 * was written), doubles the map and runs body again; any other failure
 * aborts and leaves the store as it was at its last commit.  body returns
 * 0, MDB_MAP_FULL as it is, or another status with err filled. */
typedef int (*rs_txn_body)(rs_store *s, MDB_txn *txn, void *ctx, rs_error *err);
int rs_store_write(rs_store *s, rs_txn_body body, void *ctx, rs_error *err);

/* history.c: the number of the last run the history holds (0: none). */
int rs_store_last_run(rs_store *s, MDB_txn *txn, uint64_t *last);

/* ---- sources.c: a source's progress as stored ---- */

/* RS_ECORRUPT when the entry is not one. */
int rs_store_decode_source(rs_source *src, const MDB_val *k, const MDB_val *v);
int rs_store_put_source(MDB_txn *txn, MDB_dbi dbi, const rs_source *src);

/* ---- apply.c: entries into the records, in key order ---- */

/* Keys are written in increasing order, so once one is past the last key
 * the store held, all that follow are: those go in with MDB_APPEND, which
 * skips the search and, when a leaf is full, starts a new one instead of
 * moving half of it.  A new store is written that way from its first key
 * (1M generated events: 57.4 MiB instead of 60.5, and the merge a little
 * faster). */
typedef struct rs_appender {
	uint8_t last[512];    /* LMDB's keys are at most 511 bytes */
	size_t last_len;
	int past;             /* past the store's last key: every key after is */
} rs_appender;

int rs_appender_begin(rs_appender *ap, MDB_cursor *cur);
/* Write one key: raw is its encoded record, or rec (raw NULL) its merge of
 * several; merged with what the store holds for it. */
int rs_store_put_one(rs_store *s, MDB_cursor *cur, rs_appender *ap, const uint8_t *key,
                     size_t key_len, const uint8_t *raw, size_t raw_len, const rs_record *rec,
                     rs_error *err);

/* extra writes that go in the same transaction as a batch */
typedef int (*rs_extra_fn)(rs_store *s, MDB_txn *txn, void *ctx);

typedef struct rs_apply_job {
	rs_batch *b;          /* or NULL: only the sources and the extra */
	const rs_source *src;
	size_t nsrc;
	rs_extra_fn extra;
	void *ctx;
} rs_apply_job;

/* An rs_txn_body: the batch's records, then the sources' progress (each
 * checked against what it expects), then extra. */
int rs_store_apply_body(rs_store *s, MDB_txn *txn, void *job, rs_error *err);
int rs_store_apply_with(rs_store *s, rs_batch *b, const rs_source *src, size_t nsrc,
                        rs_extra_fn extra, void *ctx, rs_error *err);

#endif
