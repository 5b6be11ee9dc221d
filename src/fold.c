/* Applying sorted runs: the runs an import spilled, read merged in key
 * order, folded key by key (rs_folder, which a map's partition files use
 * too) and written into the store in one transaction, by two threads when
 * they are big (the committer and rs-fold).  What a
 * key's merge is lives in record.c; how one key is written, in apply.c. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include <rewardstore/record.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "bytes.h"
#include "fold-private.h"
#include "store-private.h"
#include "thread.h"

/* An import spills its batches as sorted runs (src/runs.c) and applies a
 * whole stretch of them here, in one transaction: the runs are read merged
 * in key order, a key's entries are folded in memory, and each key is
 * written once, walking the B-tree from left to right.  Consecutive keys
 * mostly share a leaf, which LMDB's cursor finds without a search from
 * the root; each leaf is copied once per transaction (MDB_WRITEMAP). */

typedef struct runs_job {
	rs_runs *runs;
	const rs_source *src;
	size_t nsrc;
} runs_job;

/* A run read back is not what was written: say so, naming the store. */
static int run_damaged(rs_store *s, int rc, rs_error *err)
{
	rs_error_set(err, rc, "a sorted run is damaged: %s", rs_strerror(rc));
	rs_error_locate(err, s->path, 0, 0);
	return rc;
}

/* Fold a part of the runs into the store, key after key. */
static int fold_into_store(rs_store *s, MDB_cursor *cur, rs_appender *ap,
                           rs_runs *runs, rs_runs_part part, rs_error *err)
{
	rs_folder f = { 0 };
	const uint8_t *key, *raw;
	size_t key_len, raw_len;
	rs_record acc;
	int rc;

	if ((rc = rs_runs_reader_open(runs, part, &f.rd, err)))
		return rc;
	while ((rc = rs_folder_next(&f, &key, &key_len, &raw, &raw_len, &acc)) == 1) {
		if ((rc = rs_store_put_one(s, cur, ap, key, key_len, raw, raw_len, &acc, err)))
			goto close; /* err says why, or the map is full */
	}
	if (rc)
		run_damaged(s, rc, err);
close:
	rs_runs_reader_close(f.rd);
	return rc;
}

/* The other thread's half: folded into a run of its own, one entry a key,
 * which the committer then writes without folding. */
typedef struct half {
	rs_runs *runs, *out;
	int rc;
	rs_error err;
	/* how far out's file is written: the committer writes the entries
	 * into the store as they come */
	rs_progress prog;
} half;

static void *fold_half(void *arg)
{
	rs_thread_name("rs-fold");
	half *h = arg;
	rs_folder f = { 0 };
	const uint8_t *key, *raw;
	size_t key_len, raw_len, cap = 0;
	uint8_t *buf = NULL;
	rs_record acc;
	int rc;

	rs_error_clear(&h->err);
	if ((rc = rs_runs_reader_open(h->runs, RS_RUNS_HIGH, &f.rd, &h->err)))
		goto done;
	while ((rc = rs_folder_next(&f, &key, &key_len, &raw, &raw_len, &acc)) == 1) {
		if (raw == NULL) {
			size_t need = rs_record_encoded_max(&acc);
			if (need > cap) {
				uint8_t *nb = realloc(buf, need);
				if (nb == NULL) {
					rc = rs_error_set(&h->err, RS_ENOMEM, "out of memory");
					goto close;
				}
				buf = nb;
				cap = need;
			}
			raw_len = rs_record_encode(&acc, buf);
			raw = buf;
		}
		uint64_t before = rs_runs_bytes(h->out);
		if ((rc = rs_runs_append(h->out, key, key_len, raw, raw_len, &h->err)))
			goto close; /* h->err says why */
		if (rs_runs_bytes(h->out) != before)
			rs_progress_say(&h->prog, rs_runs_bytes(h->out), 0, 0); /* 1 MiB more */
	}
	if (rc)
		rs_error_set(&h->err, rc, "a sorted run is damaged: %s", rs_strerror(rc));
	else
		rc = rs_runs_append_end(h->out, &h->err);
close:
	rs_runs_reader_close(f.rd);
done:
	free(buf);
	h->rc = rc;
	rs_progress_say(&h->prog, rs_runs_bytes(h->out), 1, rc);
	return NULL;
}

/* The committer's side: write the helper's entries (one a key, folded)
 * into the store as they are written to its file, until it is done. */
static int follow_half(rs_store *s, MDB_cursor *cur, rs_appender *ap, half *h,
                       rs_runs_follower *f, rs_error *err)
{
	const uint8_t *key, *val;
	size_t key_len, val_len;
	uint64_t written = 0;
	int done = 0, helper_rc = 0, rc;

	for (;;) {
		while ((rc = rs_runs_follower_next(f, written, &key, &key_len, &val, &val_len,
		                                   err)) == 1) {
			if ((rc = rs_store_put_one(s, cur, ap, key, key_len, val, val_len, NULL, err)))
				return rc; /* err says why, or the map is full */
			}
		if (rc || done)
			break;
		rs_progress_wait(&h->prog, written, &written, &done, &helper_rc);
	}
	/* bytes left over that make no entry, where the helper succeeded */
	if (rc == 0 && helper_rc == 0 && rs_runs_follower_partial(f))
		rc = RS_ECORRUPT;
	return rc == RS_ECORRUPT ? run_damaged(s, rc, err) : rc;
}

/* Runs this big are merged by two threads, a part of the key space each
 * (smaller ones are not worth a thread; both ways are tested) */
#define TWO_HALVES_BYTES (64u << 10)

static int runs_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	runs_job *j = arg;
	MDB_cursor *cur;
	half h = { .runs = j->runs };
	rs_runs_follower *follower = NULL;
	pthread_t thread;
	int threaded = 0, rc;

	if ((rc = mdb_cursor_open(txn, s->records, &cur)))
		return rs_store_fail(err, s->path, rc, "cannot open a cursor");
	rs_appender ap;
	if ((rc = rs_appender_begin(&ap, cur))) {
		mdb_cursor_close(cur);
		return rs_store_fail(err, s->path, rc, "cannot read the last record");
	}
	/* Folding is most of the work, and only the writes to the B-tree must
	 * be in this thread: another folds the high part of the key space
	 * into a run of its own meanwhile, which this one writes as it comes
	 * once done with the low part.  If it cannot be had, this thread does
	 * it all. */
	if (rs_runs_bytes(j->runs) >= TWO_HALVES_BYTES) {
		rs_error ignored;
		if (rs_runs_new(&h.out, s->path, &ignored) == 0) {
			if (rs_runs_follower_open(h.out, &follower, &ignored) == 0)
				threaded = rs_thread_start(&thread, &h.prog.mu, &h.prog.cv, fold_half, &h);
			if (!threaded) {
				rs_runs_follower_close(follower);
				rs_runs_free(h.out);
			}
		}
	}
	rc = fold_into_store(s, cur, &ap, j->runs, threaded ? RS_RUNS_LOW : RS_RUNS_ALL, err);
	if (threaded) {
		if (rc == 0)
			rc = follow_half(s, cur, &ap, &h, follower, err);
		pthread_join(thread, NULL);
		if (rc == 0 && (rc = h.rc))
			*err = h.err;
		pthread_cond_destroy(&h.prog.cv);
		pthread_mutex_destroy(&h.prog.mu);
		rs_runs_follower_close(follower);
		rs_runs_free(h.out);
	}
	mdb_cursor_close(cur);
	if (rc)
		return rc;
	rs_apply_job aj = { NULL, j->src, j->nsrc, NULL, NULL };
	return rs_store_apply_body(s, txn, &aj, err);
}

/* Make the map big enough for a transaction that may copy every page of
 * the tree and add the runs' bytes, before it begins: a full map would
 * make it start again.  The file is sparse up to the map size. */
static int make_room(rs_store *s, uint64_t extra, rs_error *err)
{
	MDB_txn *txn;
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	pthread_mutex_lock(&s->map_mu);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
		pthread_mutex_unlock(&s->map_mu);
		return rc == MDB_MAP_RESIZED ? 0 : rs_store_fail(err, s->path, rc, "cannot begin a read transaction");
	}
	mdb_env_info(s->env, &info);
	uint64_t want = rs_store_used_bytes(s->env) + extra;
	if (mdb_stat(txn, s->records, &st) == 0)
		want += (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
		        st.ms_psize;
	mdb_txn_abort(txn);
	uint64_t size = info.me_mapsize ? info.me_mapsize : RS_DEFAULT_MAP_SIZE;
	while (size < want)
		size *= 2;
	rc = size == info.me_mapsize ? 0 : mdb_env_set_mapsize(s->env, size);
	pthread_mutex_unlock(&s->map_mu);
	return rc ? rs_store_fail(err, s->path, rc, "cannot grow the map") : 0;
}

int rs_store_apply_runs(rs_store *s, rs_runs *runs, const rs_source *src, size_t nsrc,
                        rs_error *err)
{
	runs_job j = { runs, src, nsrc };
	int rc;

	if ((rc = make_room(s, 2 * rs_runs_bytes(runs) + (64u << 20), err)))
		return rc;
	return rs_store_write(s, runs_body, &j, err);
}

/* ---- the folder (fold-private.h): a reader's entries with equal keys
 * come one after the other, so a key is whole when the next key differs ---- */

int rs_folder_next(rs_folder *f, const uint8_t **key, size_t *key_len, const uint8_t **raw,
                   size_t *raw_len, rs_record *acc)
{
	rs_record r;
	int folded = 0, rc;

	if (f->key == NULL &&
	    (rc = rs_runs_reader_next(f->rd, &f->key, &f->key_len, &f->val, &f->val_len)) != 1)
		return rc;
	*key = f->key;
	*key_len = f->key_len;
	*raw = f->val;
	*raw_len = f->val_len;
	for (;;) {
		if ((rc = rs_runs_reader_next(f->rd, &f->key, &f->key_len, &f->val,
		                              &f->val_len)) != 1) {
			if (rc)
				return rc;
			f->key = NULL;
			break;
		}
		if (!rs_bytes_eq(f->key, f->key_len, *key, *key_len))
			break;
		/* the same key in another run: fold it in memory */
		if (!folded && (rc = rs_record_decode(acc, *raw, *raw_len)))
			return rc;
		if ((rc = rs_record_decode(&r, f->val, f->val_len)))
			return rc;
		rs_record_merge(acc, &r);
		folded = 1;
	}
	if (folded)
		*raw = NULL;
	return 1;
}
