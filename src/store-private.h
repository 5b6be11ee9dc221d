/* Private: what the files of the store share -- the environment and its
 * named databases (store.c), the one way to run a write transaction, the
 * sources' encoding (sources.c), applying entries key by key (apply.c) and
 * the prefault helper (prefault.c).  The public face is
 * include/rewardstore/store.h; nothing here is installed. */
#ifndef RS_STORE_PRIVATE_H
#define RS_STORE_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include <lmdb.h>

#include <rewardstore/batch.h>
#include <rewardstore/store.h>

#define RS_DEFAULT_MAP_SIZE (1ULL << 30)

struct rs_store {
	MDB_env *env;
	MDB_dbi records, meta, sources, catalog, catalog_ids, history, merged;
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

/* Little-endian integers of the stored values. */
static inline void rs_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t rs_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

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

/* ---- prefault.c: page faults ahead of LMDB ---- */

/* Page faults ahead of LMDB.  With MDB_WRITEMAP every page a transaction
 * takes at the end of the file (a new page, or the copy of one it changes)
 * is first touched through the map: a page fault each, which allocates and
 * zeroes the page.  On this project's machines (virtual, with shadow page
 * tables) a fault costs 5-10 us, so the 15,000 new pages of a 1M-event
 * import cost the committer 0.1-0.15 s, and the copied leaves of a second
 * commit at 10M a third of its time.  MADV_POPULATE_WRITE (Linux 5.14)
 * does that work for a whole range in one call without the traps.  It
 * still zeroes each page, which at 10M is a third of what the committer
 * does alone at the end of its merge, so a thread of its own does it
 * (rs-prefault), two windows ahead of where LMDB takes pages: LMDB writes
 * a page's number in its first bytes when it takes it, and a populated
 * page is zeros until then, so once the committer sees the page in the
 * middle of the next-to-last window taken, it asks for one more.  At most
 * two windows go unused (zeros beyond the pages in use, trimmed at close).
 * Where the call fails (older kernels, a full disk) the faults happen as
 * before, a full disk turning into its usual message. */
#define PREFAULT_AHEAD (4u << 20)
#define PREFAULT_EVERY 256 /* keys written between looks */

typedef struct rs_prefault {
	uint8_t *map;          /* NULL: not done */
	uint64_t map_size;
	uint64_t asked;        /* the committer's: populated up to here, or soon */
	unsigned count;
	int threaded;          /* else the committer populates, in turn */
	pthread_t thread;
	pthread_mutex_t mu;    /* guards what follows */
	pthread_cond_t cv;
	uint64_t want, done_to;
	int stop;
} rs_prefault;

/* Start populating the map past the pages in use; does nothing (and the
 * import is the same, only slower) when the map cannot be found. */
void rs_prefault_begin(rs_prefault *pf, rs_store *s);
/* Call after each key written: asks for more when LMDB came near. */
void rs_prefault_more(rs_prefault *pf);
/* Before the transaction ends: the map may move after it. */
void rs_prefault_end(rs_prefault *pf);

#endif
