/* The store: an LMDB environment directory (see include/rewardstore/store.h
 * for its databases, doc/DESIGN.md for durability).
 *
 * Every write transaction holds merged records together with the progress
 * of the sources that produced them, so a crash at any moment leaves either
 * all of a transaction or none.
 *
 * A writer opens the environment with MDB_WRITEMAP: LMDB then writes pages
 * in place in the shared file mapping instead of malloc'ing a copy of every
 * page a transaction dirties.  That is what lets one transaction span
 * millions of events with flat anonymous memory, and copy each B-tree page
 * at most once however many keys land on it (doc/DESIGN.md, "Applying").
 * Its costs, and what pays them:
 * - LMDB ftruncates data.mdb to the map size when it maps it, so two
 *   writers with different map sizes could cut the file under each other.
 *   Writers therefore take an exclusive flock on the store directory for
 *   as long as they have it open: one writing process at a time, the others
 *   wait (they would wait for LMDB's write lock anyway).
 * - The file is sparse up to the map size while a writer has it; closing
 *   trims it back to the pages in use, under LMDB's write lock.
 * - A write into a hole of the file on a full disk is a SIGBUS, not an
 *   error code: the program turns that signal into its full-disk message
 *   (tools/rewardstore.c).  Nothing is committed by then, so the store is
 *   as it was at its last commit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <lmdb.h>
#include <uuid/uuid.h>

#include <rewardstore/catalog.h>
#include <rewardstore/runs.h>
#include <rewardstore/store.h>

#include "hash.h"
#include "thread.h"

#define DEFAULT_MAP_SIZE (1ULL << 30)
#define META_FORMAT "format"

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

static int set_mapsize(rs_store *s, uint64_t size)
{
	pthread_mutex_lock(&s->map_mu);
	int rc = mdb_env_set_mapsize(s->env, size);
	pthread_mutex_unlock(&s->map_mu);
	return rc;
}

struct rs_cursor {
	rs_store *s;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_cursor_op op;
};

static int fail(rs_error *err, const char *path, int rc, const char *what)
{
	rs_error_set(err, rc, "%s: %s", what, rs_strerror(rc));
	rs_error_locate(err, path, 0, 0);
	return rc;
}

/* Whether dir holds nothing but LMDB's own files: empty, or a store that
 * another process is creating at this moment. */
static int dir_is_free(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int free_ = 1;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "lock.mdb") != 0 && strcmp(de->d_name, "data.mdb") != 0) {
			free_ = 0;
			break;
		}
	closedir(d);
	return free_;
}

/* Decide, before LMDB touches anything, whether path is a store, may
 * become one, or is something else that must be left alone. */
static int check_path(const char *path, unsigned flags, rs_error *err)
{
	char data[RS_ERROR_SOURCE_LEN + 16];
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno != ENOENT || (flags & RS_STORE_RDONLY)) {
			int rc = errno == ENOENT ? RS_ENOSTORE : errno;
			rs_error_set(err, rc, "no store at '%s'", path);
			rs_error_locate(err, path, 0, 0);
			return rc;
		}
		/* another import may create it at the same moment: that is fine */
		if (mkdir(path, 0777) != 0 && errno != EEXIST) {
			int rc = errno;
			rs_error_set(err, rc, "cannot create the store directory '%s': %s", path,
			             strerror(rc));
			rs_error_locate(err, path, 0, 0);
			return rc;
		}
		if (stat(path, &st) != 0) {
			int rc = errno;
			rs_error_set(err, rc, "cannot use the store directory '%s': %s", path, strerror(rc));
			rs_error_locate(err, path, 0, 0);
			return rc;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		rs_error_set(err, RS_ENOSTORE, "'%s' is not a store (not a directory)", path);
		rs_error_locate(err, path, 0, 0);
		return RS_ENOSTORE;
	}
	snprintf(data, sizeof data, "%s/data.mdb", path);
	if (stat(data, &st) == 0)
		return 0;
	if ((flags & RS_STORE_RDONLY) || !dir_is_free(path)) {
		rs_error_set(err, RS_ENOSTORE, "'%s' is not a store (it has no data.mdb)", path);
		rs_error_locate(err, path, 0, 0);
		return RS_ENOSTORE;
	}
	return 0;
}

/* Open the named databases, creating them in a new store, and check the
 * format version: a store stamped newer than this build is refused before
 * anything is written. */
static int open_dbs(rs_store *s, rs_error *err)
{
	int rdonly = s->flags & RS_STORE_RDONLY;
	unsigned create = rdonly ? 0 : MDB_CREATE;
	MDB_txn *txn;
	MDB_val k = { sizeof META_FORMAT - 1, (void *)META_FORMAT }, v;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return fail(err, s->path, rc, "cannot begin a transaction");
	rc = mdb_dbi_open(txn, "meta", create, &s->meta);
	if (rc == MDB_NOTFOUND) {
		rc = rs_error_set(err, RS_ENOSTORE, "'%s' is not a rewardstore store", s->path);
		rs_error_locate(err, s->path, 0, 0);
		goto abort;
	}
	if (rc)
		goto fail;
	rc = mdb_get(txn, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND && !rdonly) {
		/* a new store: stamp it */
		uint32_t fmt = RS_STORE_FORMAT;
		MDB_val fv = { sizeof fmt, &fmt };
		if ((rc = mdb_put(txn, s->meta, &k, &fv, 0)))
			goto fail;
	} else if (rc == MDB_NOTFOUND) {
		rc = rs_error_set(err, RS_ENOSTORE, "'%s' is not a rewardstore store", s->path);
		rs_error_locate(err, s->path, 0, 0);
		goto abort;
	} else if (rc) {
		goto fail;
	} else {
		uint32_t fmt;
		if (v.mv_size != sizeof fmt) {
			rc = rs_error_set(err, RS_ECORRUPT, "store '%s' has a damaged format stamp", s->path);
			rs_error_locate(err, s->path, 0, 0);
			goto abort;
		}
		memcpy(&fmt, v.mv_data, sizeof fmt);
		if (fmt > RS_STORE_FORMAT) {
			rc = rs_error_set(err, RS_EVERSION,
			                  "store '%s' has format %u, newer than this rewardstore reads (%u)",
			                  s->path, fmt, RS_STORE_FORMAT);
			rs_error_locate(err, s->path, 0, 0);
			goto abort;
		}
	}
	if ((rc = mdb_dbi_open(txn, "records", create, &s->records)) ||
	    (rc = mdb_dbi_open(txn, "sources", create, &s->sources)) ||
	    (rc = mdb_dbi_open(txn, "catalog", create, &s->catalog)) ||
	    (rc = mdb_dbi_open(txn, "catalog_ids", create, &s->catalog_ids)) ||
	    (rc = mdb_dbi_open(txn, "history", create, &s->history)) ||
	    (rc = mdb_dbi_open(txn, "merged", create, &s->merged)))
		goto fail;
	/* the store's id: merges remember the stores they folded in by it */
	MDB_val ik = { 8, (void *)"store_id" }, iv;
	rc = mdb_get(txn, s->meta, &ik, &iv);
	if (rc == MDB_NOTFOUND && !rdonly) {
		uuid_generate(s->id);
		iv.mv_size = 16;
		iv.mv_data = s->id;
		if ((rc = mdb_put(txn, s->meta, &ik, &iv, 0)))
			goto fail;
	} else if (rc == 0 && iv.mv_size == 16) {
		memcpy(s->id, iv.mv_data, 16);
	} else if (rc && rc != MDB_NOTFOUND) {
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)))
		return fail(err, s->path, rc, "cannot commit");
	return 0;
fail:
	fail(err, s->path, rc, "cannot open the store's databases");
abort:
	mdb_txn_abort(txn);
	return rc;
}

/* The bytes of data.mdb that the last commit's pages take; 0 when LMDB
 * cannot say. */
static uint64_t used_bytes(MDB_env *env)
{
	MDB_envinfo info;
	MDB_stat st;

	if (mdb_env_info(env, &info) || mdb_env_stat(env, &st))
		return 0;
	return ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

/* A data file shorter than the pages its meta page counts would be a
 * SIGBUS when LMDB reads past its end, not an error: check first. */
static int check_size(MDB_env *env, const char *path, rs_error *err)
{
	uint64_t used = used_bytes(env);
	struct stat fst;
	char data[RS_ERROR_SOURCE_LEN + 16];

	snprintf(data, sizeof data, "%s/data.mdb", path);
	if (used == 0 || stat(data, &fst))
		return 0; /* nothing to compare: LMDB will say */
	if ((uint64_t)fst.st_size < used) {
		rs_error_set(err, RS_ECORRUPT,
		             "store '%s' is damaged: data.mdb has %llu bytes, its pages need %llu",
		             path, (unsigned long long)fst.st_size, (unsigned long long)used);
		rs_error_locate(err, path, 0, 0);
		return RS_ECORRUPT;
	}
	return 0;
}

static int env_open(MDB_env **out, const char *path, unsigned mflags, uint64_t map_size,
                    rs_error *err)
{
	MDB_env *env;
	int rc;

	if ((rc = mdb_env_create(&env)))
		return fail(err, path, rc, "cannot create an LMDB environment");
	if ((rc = mdb_env_set_maxdbs(env, 8)) ||
	    (rc = mdb_env_set_mapsize(env, map_size ? map_size : DEFAULT_MAP_SIZE))) {
		fail(err, path, rc, "cannot configure LMDB");
		goto close_env;
	}
	if ((rc = mdb_env_open(env, path, mflags, 0666))) {
		if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
			rs_error_set(err, RS_ENOSTORE, "'%s' is not a store: %s", path, mdb_strerror(rc));
			rs_error_locate(err, path, 0, 0);
			rc = RS_ENOSTORE;
		} else {
			fail(err, path, rc, "cannot open the store");
		}
		goto close_env;
	}
	if ((rc = check_size(env, path, err)))
		goto close_env;
	*out = env;
	return 0;
close_env:
	mdb_env_close(env);
	return rc;
}

/* A writer's open ftruncates data.mdb to the map size (MDB_WRITEMAP), so a
 * damaged file must be found before that, with a read-only look. */
static int precheck(const char *path, off_t *size, rs_error *err)
{
	char data[RS_ERROR_SOURCE_LEN + 16];
	struct stat fst;
	MDB_env *env;
	rs_error ignored;
	int rc;

	*size = -1;
	snprintf(data, sizeof data, "%s/data.mdb", path);
	if (stat(data, &fst) != 0)
		return 0; /* a new store */
	*size = fst.st_size;
	rs_error_clear(&ignored);
	rc = env_open(&env, path, MDB_RDONLY | MDB_NORDAHEAD, 0, &ignored);
	if (rc == RS_ECORRUPT) {
		*err = ignored;
		return rc;
	}
	if (rc == 0)
		mdb_env_close(env);
	return 0; /* anything else, the real open will say */
}

int rs_store_open(rs_store **out, const char *path, unsigned flags,
                  rs_error *err)
{
	return rs_store_open_sized(out, path, flags, 0, err);
}

int rs_store_open_sized(rs_store **out, const char *path, unsigned flags,
                        uint64_t map_size, rs_error *err)
{
	rs_store *s;
	unsigned mflags = MDB_NORDAHEAD;
	off_t size_before = -1;
	int rc;

	*out = NULL;
	if ((rc = check_path(path, flags, err)))
		return rc;
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	s->flags = flags;
	s->lock_fd = -1;
	if ((rc = pthread_mutex_init(&s->map_mu, NULL))) {
		free(s);
		return rs_error_set(err, rc, "cannot make a mutex: %s", rs_strerror(rc));
	}
	snprintf(s->path, sizeof s->path, "%s", path);
	if (flags & RS_STORE_RDONLY) {
		mflags |= MDB_RDONLY;
	} else {
		/* one writing process at a time: see the top of this file */
		if ((s->lock_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			rc = fail(err, path, errno, "cannot open the store directory");
			goto free_store;
		}
		while (flock(s->lock_fd, LOCK_EX) != 0) {
			if (errno != EINTR) {
				rc = fail(err, path, errno, "cannot lock the store for writing");
				goto free_store;
			}
		}
		if ((rc = precheck(path, &size_before, err)))
			goto free_store;
		mflags |= MDB_WRITEMAP;
	}
	if (flags & RS_STORE_NOSYNC)
		mflags |= MDB_NOSYNC;
	if ((rc = env_open(&s->env, path, mflags, map_size, err)))
		goto restore_size;
	if ((rc = open_dbs(s, err)))
		goto close_env;
	*out = s;
	return 0;
close_env:
	mdb_env_close(s->env);
restore_size:
	/* a store refused is left as it was, to the byte */
	if (size_before >= 0) {
		char data[RS_ERROR_SOURCE_LEN + 16];
		snprintf(data, sizeof data, "%s/data.mdb", path);
		if (truncate(data, size_before) != 0) {
			/* nothing better to do: the error already says why */
		}
	}
free_store:
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->map_mu);
	free(s);
	return rc;
}

/* Give back the sparse tail that MDB_WRITEMAP's ftruncate made: cut the
 * file to the pages the last commit uses.  Under LMDB's write lock, so no
 * transaction of another process is writing past them; readers never read
 * past their snapshot's last page. */
static void trim(rs_store *s)
{
	MDB_txn *txn;
	mdb_filehandle_t fd;
	struct stat fst;

	if (mdb_txn_begin(s->env, NULL, 0, &txn))
		return;
	off_t used = (off_t)used_bytes(s->env);
	if (used > 0 && mdb_env_get_fd(s->env, &fd) == 0 && fstat(fd, &fst) == 0 &&
	    fst.st_size > used && ftruncate(fd, used) != 0) {
		/* a longer file than needed is harmless */
	}
	mdb_txn_abort(txn);
}

void rs_store_close(rs_store *s)
{
	if (s == NULL)
		return;
	/* RS_STORE_NOSYNC syncs nothing, not even here: like PostgreSQL's
	 * --no-sync, the program returns without waiting for the disk, and the
	 * kernel writes the pages back in its own time (doc/DESIGN.md) */
	if (s->lock_fd >= 0)
		trim(s);
	mdb_env_close(s->env);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* and the flock with it */
	pthread_mutex_destroy(&s->map_mu);
	free(s->scratch);
	free(s);
}

/* ---- sources ---- */

#define SOURCE_VALUE_LEN (6 * 8)

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int decode_source(rs_source *src, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	size_t name_len;

	if (k->mv_size != sizeof src->fingerprint || v->mv_size < SOURCE_VALUE_LEN)
		return RS_ECORRUPT;
	memcpy(src->fingerprint, k->mv_data, sizeof src->fingerprint);
	src->bytes = get_u64(p);
	src->lines = get_u64(p + 8);
	src->events = get_u64(p + 16);
	src->rejected = get_u64(p + 24);
	src->tail_hash = get_u64(p + 32);
	src->flags = get_u64(p + 40);
	name_len = v->mv_size - SOURCE_VALUE_LEN;
	if (name_len >= sizeof src->name)
		name_len = sizeof src->name - 1;
	memcpy(src->name, p + SOURCE_VALUE_LEN, name_len);
	src->name[name_len] = '\0';
	return 0;
}

static int put_source(MDB_txn *txn, MDB_dbi dbi, const rs_source *src)
{
	uint8_t buf[SOURCE_VALUE_LEN + sizeof src->name];
	size_t name_len = strnlen(src->name, sizeof src->name);
	MDB_val k = { sizeof src->fingerprint, (void *)src->fingerprint };
	MDB_val v = { SOURCE_VALUE_LEN + name_len, buf };

	put_u64(buf, src->bytes);
	put_u64(buf + 8, src->lines);
	put_u64(buf + 16, src->events);
	put_u64(buf + 24, src->rejected);
	put_u64(buf + 32, src->tail_hash);
	put_u64(buf + 40, src->flags);
	memcpy(buf + SOURCE_VALUE_LEN, src->name, name_len);
	return mdb_put(txn, dbi, &k, &v, 0);
}

int rs_store_source_get(rs_store *s, const uint8_t fp[16], rs_source *out,
                        rs_error *err)
{
	MDB_txn *txn;
	MDB_val k = { 16, (void *)fp }, v;
	int rc;

	pthread_mutex_lock(&s->map_mu);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
		pthread_mutex_unlock(&s->map_mu);
		return fail(err, s->path, rc, "cannot begin a read transaction");
	}
	rc = mdb_get(txn, s->sources, &k, &v);
	if (rc == 0 && decode_source(out, &k, &v))
		rc = rs_error_set(err, RS_ECORRUPT, "a source entry is damaged");
	else if (rc && rc != MDB_NOTFOUND)
		fail(err, s->path, rc, "cannot read a source");
	mdb_txn_abort(txn);
	pthread_mutex_unlock(&s->map_mu);
	return rc;
}

int rs_store_sources(rs_store *s, int (*fn)(void *ctx, const rs_source *src),
                     void *ctx, rs_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	rs_source src;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return fail(err, s->path, rc, "cannot begin a read transaction");
	if ((rc = mdb_cursor_open(txn, s->sources, &cur))) {
		fail(err, s->path, rc, "cannot open a cursor");
		goto abort;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (decode_source(&src, &k, &v)) {
			rc = rs_error_set(err, RS_ECORRUPT, "a source entry is damaged");
			goto close;
		}
		if ((rc = fn(ctx, &src)))
			goto close;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		fail(err, s->path, rc, "cannot read the sources");
close:
	mdb_cursor_close(cur);
abort:
	mdb_txn_abort(txn);
	return rc;
}

/* ---- applying a batch ---- */

static int reserve(rs_store *s, size_t n)
{
	if (n <= s->scratch_cap)
		return 0;
	uint8_t *p = realloc(s->scratch, n);
	if (p == NULL)
		return RS_ENOMEM;
	s->scratch = p;
	s->scratch_cap = n;
	return 0;
}

/* Keys are written in increasing order, so once one is past the last key
 * the store held, all that follow are: those go in with MDB_APPEND, which
 * skips the search and, when a leaf is full, starts a new one instead of
 * moving half of it.  A new store is written that way from its first key
 * (1M generated events: 57.4 MiB instead of 60.5, and the merge a little
 * faster). */
typedef struct appender {
	uint8_t last[512];    /* LMDB's keys are at most 511 bytes */
	size_t last_len;
	int past;             /* past the store's last key: every key after is */
} appender;

static int appender_begin(appender *ap, MDB_cursor *cur)
{
	MDB_val k, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);

	memset(ap, 0, sizeof *ap);
	if (rc == MDB_NOTFOUND) {
		ap->past = 1; /* an empty store */
		return 0;
	}
	if (rc)
		return rc;
	if (k.mv_size > sizeof ap->last)
		return 0; /* never past: the usual way for every key */
	memcpy(ap->last, k.mv_data, k.mv_size);
	ap->last_len = k.mv_size;
	return 0;
}

/* Write one key: raw is its encoded record, or rec (raw NULL) its merge of
 * several.  One search per key: a put with MDB_NOOVERWRITE either inserts
 * it or returns the stored value with the cursor on it, which MDB_CURRENT
 * then replaces with the merge. */
static int put_one(rs_store *s, MDB_cursor *cur, appender *ap, const uint8_t *key,
                   size_t key_len, const uint8_t *raw, size_t raw_len, const rs_record *rec,
                   rs_error *err)
{
	MDB_val k = { key_len, (void *)key }, v;
	rs_record stored, r;
	int rc;

	if (!ap->past && ap->last_len && rs_key_cmp(key, key_len, ap->last, ap->last_len) > 0)
		ap->past = 1;

	if (raw == NULL) {
		if ((rc = reserve(s, rs_record_encoded_max(rec))))
			return rs_error_set(err, rc, "out of memory");
		v.mv_size = rs_record_encode(rec, s->scratch);
		v.mv_data = s->scratch;
	} else {
		v.mv_size = raw_len;
		v.mv_data = (void *)raw;
	}
	rc = mdb_cursor_put(cur, &k, &v, ap->past ? MDB_APPEND : MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST && ap->past) {
		/* not in order after all (LMDB checked): the usual way from here */
		ap->past = 0;
		ap->last_len = 0;
		rc = mdb_cursor_put(cur, &k, &v, MDB_NOOVERWRITE);
	}
	if (rc == 0)
		return 0;
	if (rc != MDB_KEYEXIST) {
		if (rc != MDB_MAP_FULL)
			fail(err, s->path, rc, "cannot write a record");
		return rc;
	}
	/* v is the stored value now */
	if ((rc = rs_record_decode(&stored, v.mv_data, v.mv_size)) ||
	    (raw && (rc = rs_record_decode(&r, raw, raw_len)))) {
		rs_error_set(err, rc, "a stored record is damaged: %s", rs_strerror(rc));
		rs_error_locate(err, s->path, 0, 0);
		return rc;
	}
	rs_record_merge(&stored, raw ? &r : rec);
	/* stored may point into the page; encode before the put */
	if ((rc = reserve(s, rs_record_encoded_max(&stored))))
		return rs_error_set(err, rc, "out of memory");
	v.mv_size = rs_record_encode(&stored, s->scratch);
	v.mv_data = s->scratch;
	if ((rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT)) && rc != MDB_MAP_FULL)
		fail(err, s->path, rc, "cannot write a record");
	return rc;
}

/* Merge every entry into its stored record, in key order, so that the
 * B-tree is walked once from left to right (the values were encoded by
 * rs_batch_pack already). */
static int apply_records(rs_store *s, MDB_txn *txn, rs_batch *b, rs_error *err)
{
	MDB_cursor *cur;
	const uint8_t *key, *val;
	size_t key_len, val_len, pos = 0;
	int rc;

	if ((rc = rs_batch_pack(b)))
		return rs_error_set(err, rc, "out of memory");
	if ((rc = mdb_cursor_open(txn, s->records, &cur)))
		return fail(err, s->path, rc, "cannot open a cursor");
	appender ap;
	if ((rc = appender_begin(&ap, cur)))
		fail(err, s->path, rc, "cannot read the last record");
	while (rc == 0 && rs_batch_next_packed(b, &pos, &key, &key_len, &val, &val_len) == 1)
		rc = put_one(s, cur, &ap, key, key_len, val, val_len, NULL, err);
	mdb_cursor_close(cur);
	return rc;
}

/* A commit that failed left the store as it was at the last one.  LMDB
 * reports a short write as EIO, so a full disk is recognized by looking at
 * the filesystem's free space. */
static int commit_failed(rs_store *s, int rc, rs_error *err)
{
	struct statvfs vfs;

	if ((rc == EIO || rc == ENOSPC || rc == EDQUOT) && statvfs(s->path, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20)) {
		rs_error_set(err, ENOSPC,
		             "cannot commit: no space left on device (the disk holding '%s' is full); "
		             "the store is as it was at its last commit",
		             s->path);
		rs_error_locate(err, s->path, 0, 0);
		return ENOSPC;
	}
	return fail(err, s->path, rc, "cannot commit (the store is as it was at its last commit)");
}

/* Every write goes through here: begin a write transaction, let body fill
 * it, commit.  A full map aborts the transaction (nothing of it was
 * written), doubles the map and runs body again; any other failure aborts
 * and leaves the store as it was at its last commit.  body returns 0,
 * MDB_MAP_FULL as it is, or another status with err filled. */
typedef int (*txn_body)(rs_store *s, MDB_txn *txn, void *ctx, rs_error *err);

static int write_txn(rs_store *s, txn_body body, void *ctx, rs_error *err)
{
	for (;;) {
		MDB_txn *txn;
		MDB_envinfo info;
		int rc;

		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) == MDB_MAP_RESIZED) {
			/* another process grew the map: take its size */
			if ((rc = set_mapsize(s, 0)))
				return fail(err, s->path, rc, "cannot grow the map");
			continue;
		}
		if (rc)
			return fail(err, s->path, rc, "cannot begin a write transaction");
		if ((rc = body(s, txn, ctx, err))) {
			mdb_txn_abort(txn);
			if (rc != MDB_MAP_FULL)
				return rc;
		} else if ((rc = mdb_txn_commit(txn))) {
			if (rc != MDB_MAP_FULL)
				return commit_failed(s, rc, err);
		} else {
			return 0;
		}
		mdb_env_info(s->env, &info);
		if ((rc = set_mapsize(s, info.me_mapsize * 2)))
			return fail(err, s->path, rc, "cannot grow the map");
	}
}

/* extra writes that go in the same transaction as a batch */
typedef int (*extra_fn)(rs_store *s, MDB_txn *txn, void *ctx);

typedef struct apply_job {
	rs_batch *b;
	const rs_source *src;
	size_t nsrc;
	extra_fn extra;
	void *ctx;
} apply_job;

static int apply_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const apply_job *j = arg;
	const rs_source *src = j->src;
	int rc = j->b ? apply_records(s, txn, j->b, err) : 0;

	for (size_t i = 0; rc == 0 && i < j->nsrc; i++) {
		/* compare and swap: the progress must be what this import last
		 * saw, or another import is applying the same input */
		if (src[i].expect_bytes != RS_SOURCE_ANY) {
			MDB_val k = { sizeof src[i].fingerprint, (void *)src[i].fingerprint }, v;
			rs_source now;
			uint64_t stored = 0;
			int g = mdb_get(txn, s->sources, &k, &v);
			if (g == 0 && decode_source(&now, &k, &v) == 0)
				stored = now.bytes;
			else if (g != MDB_NOTFOUND && g != 0)
				return fail(err, s->path, g, "cannot read a source's progress");
			if (stored != src[i].expect_bytes) {
				rs_error_set(err, RS_ECONFLICT,
				             "another import is applying '%s' at the same time (its "
				             "progress moved from %llu to %llu bytes); nothing of this "
				             "batch was applied: run again to resume",
				             src[i].name, (unsigned long long)src[i].expect_bytes,
				             (unsigned long long)stored);
				rs_error_locate(err, src[i].name, 0, 0);
				return RS_ECONFLICT;
			}
		}
		if ((rc = put_source(txn, s->sources, &src[i])) && rc != MDB_MAP_FULL)
			fail(err, s->path, rc, "cannot write a source's progress");
	}
	if (rc == 0 && j->extra && (rc = j->extra(s, txn, j->ctx)) && rc != MDB_MAP_FULL)
		fail(err, s->path, rc, "cannot write the merge's progress");
	return rc;
}

static int apply_with(rs_store *s, rs_batch *b, const rs_source *src,
                      size_t nsrc, extra_fn extra, void *ctx, rs_error *err)
{
	apply_job j = { b, src, nsrc, extra, ctx };
	return write_txn(s, apply_body, &j, err);
}

int rs_store_apply(rs_store *s, rs_batch *b, const rs_source *src,
                   size_t nsrc, rs_error *err)
{
	return apply_with(s, b, src, nsrc, NULL, NULL, err);
}

/* ---- applying sorted runs ----
 *
 * An import spills its batches as sorted runs (src/runs.c) and applies a
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

/* The entries of a key, folded: a reader's entries with equal keys come
 * one after the other, so a key is whole when the next key differs. */
typedef struct folder {
	rs_runs_reader *rd;
	const uint8_t *key, *val; /* the entry read ahead, or key NULL */
	size_t key_len, val_len;
} folder;

/* The next key: *raw its one entry's encoded record, or NULL and *acc the
 * fold of its several (strings in the reader's map).  1, 0 at the end, or
 * a status. */
static int fold_next(folder *f, const uint8_t **key, size_t *key_len, const uint8_t **raw,
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
		if (rs_key_cmp(f->key, f->key_len, *key, *key_len) != 0)
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

typedef struct prefault {
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
} prefault;

static int populate(uint8_t *p, uint64_t len)
{
	return madvise(p, len, 23 /* MADV_POPULATE_WRITE */);
}

static void *prefault_main(void *arg)
{
	prefault *pf = arg;

	rs_thread_name("rs-prefault");
	pthread_mutex_lock(&pf->mu);
	while (!pf->stop) {
		if (pf->done_to < pf->want) {
			uint64_t from = pf->done_to, to = pf->want;
			pthread_mutex_unlock(&pf->mu);
			int failed = populate(pf->map + from, to - from) != 0;
			pthread_mutex_lock(&pf->mu);
			/* failed: LMDB faults the pages in itself */
			pf->done_to = failed ? pf->map_size : to;
			continue;
		}
		pthread_cond_wait(&pf->cv, &pf->mu);
	}
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

static void prefault_more(prefault *pf)
{
	uint64_t mid;

	if (pf->map == NULL || ++pf->count % PREFAULT_EVERY || pf->asked >= pf->map_size)
		return;
	memcpy(&mid, pf->map + pf->asked - PREFAULT_AHEAD * 3 / 2, sizeof mid);
	if (mid == 0)
		return; /* not taken yet */
	uint64_t from = pf->asked;
	pf->asked = from + PREFAULT_AHEAD < pf->map_size ? from + PREFAULT_AHEAD : pf->map_size;
	if (!pf->threaded) {
		if (populate(pf->map + from, pf->asked - from))
			pf->map = NULL;
		return;
	}
	pthread_mutex_lock(&pf->mu);
	pf->want = pf->asked;
	pthread_cond_signal(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
}

/* Where LMDB mapped data.mdb: it says only for MDB_FIXEDMAP, so it is
 * looked up in /proc/self/maps by the file's device and inode. */
static uint8_t *find_map(rs_store *s, uint64_t size)
{
	struct stat st;
	mdb_filehandle_t fd;
	char line[512];
	uint8_t *found = NULL;

	if (mdb_env_get_fd(s->env, &fd) || fstat(fd, &st))
		return NULL;
	FILE *f = fopen("/proc/self/maps", "re");
	if (f == NULL)
		return NULL;
	while (found == NULL && fgets(line, sizeof line, f)) {
		unsigned long long from, to, off, ino;
		unsigned maj, min;
		if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &from, &to, &off, &maj, &min, &ino) == 6 &&
		    ino == (unsigned long long)st.st_ino && off == 0 && to - from == size &&
		    makedev(maj, min) == st.st_dev)
			found = (uint8_t *)(uintptr_t)from;
	}
	fclose(f);
	return found;
}

static void prefault_begin(prefault *pf, rs_store *s)
{
	MDB_envinfo info;
	MDB_stat st;

	memset(pf, 0, sizeof *pf);
	if ((s->flags & RS_STORE_RDONLY) || mdb_env_info(s->env, &info) ||
	    mdb_env_stat(s->env, &st) || st.ms_psize % (unsigned)sysconf(_SC_PAGESIZE))
		return;
	uint64_t from = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	if (from + 2 * PREFAULT_AHEAD > info.me_mapsize ||
	    (pf->map = find_map(s, info.me_mapsize)) == NULL)
		return;
	pf->map_size = info.me_mapsize;
	pf->asked = pf->want = from + 2 * PREFAULT_AHEAD;
	pf->done_to = from;
	pf->threaded = rs_thread_start(&pf->thread, &pf->mu, &pf->cv, prefault_main, pf);
	if (!pf->threaded && populate(pf->map + from, 2 * PREFAULT_AHEAD))
		pf->map = NULL;
}

/* Before the transaction ends: the map may move after it. */
static void prefault_end(prefault *pf)
{
	if (!pf->threaded)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->stop = 1;
	pthread_cond_signal(&pf->cv);
	pthread_mutex_unlock(&pf->mu);
	pthread_join(pf->thread, NULL);
	pthread_cond_destroy(&pf->cv);
	pthread_mutex_destroy(&pf->mu);
	pf->threaded = 0;
}

/* A run read back is not what was written: say so, naming the store. */
static int run_damaged(rs_store *s, int rc, rs_error *err)
{
	rs_error_set(err, rc, "a sorted run is damaged: %s", rs_strerror(rc));
	rs_error_locate(err, s->path, 0, 0);
	return rc;
}

/* Fold a part of the runs into the store, key after key. */
static int fold_into_store(rs_store *s, MDB_cursor *cur, appender *ap, prefault *pf,
                           rs_runs *runs, rs_runs_part part, rs_error *err)
{
	folder f = { 0 };
	const uint8_t *key, *raw;
	size_t key_len, raw_len;
	rs_record acc;
	int rc;

	if ((rc = rs_runs_reader_open(runs, part, &f.rd, err)))
		return rc;
	while ((rc = fold_next(&f, &key, &key_len, &raw, &raw_len, &acc)) == 1) {
		if ((rc = put_one(s, cur, ap, key, key_len, raw, raw_len, &acc, err)))
			goto close; /* err says why, or the map is full */
		prefault_more(pf);
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
	folder f = { 0 };
	const uint8_t *key, *raw;
	size_t key_len, raw_len, cap = 0;
	uint8_t *buf = NULL;
	rs_record acc;
	int rc;

	rs_error_clear(&h->err);
	if ((rc = rs_runs_reader_open(h->runs, RS_RUNS_HIGH, &f.rd, &h->err)))
		goto done;
	while ((rc = fold_next(&f, &key, &key_len, &raw, &raw_len, &acc)) == 1) {
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
static int follow_half(rs_store *s, MDB_cursor *cur, appender *ap, prefault *pf, half *h,
                       rs_runs_follower *f, rs_error *err)
{
	const uint8_t *key, *val;
	size_t key_len, val_len;
	uint64_t written = 0;
	int done = 0, helper_rc = 0, rc;

	for (;;) {
		while ((rc = rs_runs_follower_next(f, written, &key, &key_len, &val, &val_len,
		                                   err)) == 1) {
			if ((rc = put_one(s, cur, ap, key, key_len, val, val_len, NULL, err)))
				return rc; /* err says why, or the map is full */
			prefault_more(pf);
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
	prefault pf = { 0 };
	int threaded = 0, rc;

	if ((rc = mdb_cursor_open(txn, s->records, &cur)))
		return fail(err, s->path, rc, "cannot open a cursor");
	appender ap;
	if ((rc = appender_begin(&ap, cur))) {
		mdb_cursor_close(cur);
		return fail(err, s->path, rc, "cannot read the last record");
	}
	/* small commits are not worth a thread, nor two windows of the map */
	if (rs_runs_bytes(j->runs) >= 2 * PREFAULT_AHEAD)
		prefault_begin(&pf, s);
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
	rc = fold_into_store(s, cur, &ap, &pf, j->runs, threaded ? RS_RUNS_LOW : RS_RUNS_ALL, err);
	if (threaded) {
		if (rc == 0)
			rc = follow_half(s, cur, &ap, &pf, &h, follower, err);
		pthread_join(thread, NULL);
		if (rc == 0 && (rc = h.rc))
			*err = h.err;
		pthread_cond_destroy(&h.prog.cv);
		pthread_mutex_destroy(&h.prog.mu);
		rs_runs_follower_close(follower);
		rs_runs_free(h.out);
	}
	prefault_end(&pf);
	mdb_cursor_close(cur);
	if (rc)
		return rc;
	apply_job aj = { NULL, j->src, j->nsrc, NULL, NULL };
	return apply_body(s, txn, &aj, err);
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
		return rc == MDB_MAP_RESIZED ? 0 : fail(err, s->path, rc, "cannot begin a read transaction");
	}
	mdb_env_info(s->env, &info);
	uint64_t want = used_bytes(s->env) + extra;
	if (mdb_stat(txn, s->records, &st) == 0)
		want += (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
		        st.ms_psize;
	mdb_txn_abort(txn);
	uint64_t size = info.me_mapsize ? info.me_mapsize : DEFAULT_MAP_SIZE;
	while (size < want)
		size *= 2;
	rc = size == info.me_mapsize ? 0 : mdb_env_set_mapsize(s->env, size);
	pthread_mutex_unlock(&s->map_mu);
	return rc ? fail(err, s->path, rc, "cannot grow the map") : 0;
}

int rs_store_apply_runs(rs_store *s, rs_runs *runs, const rs_source *src, size_t nsrc,
                        rs_error *err)
{
	runs_job j = { runs, src, nsrc };
	int rc;

	if ((rc = make_room(s, 2 * rs_runs_bytes(runs) + (64u << 20), err)))
		return rc;
	return write_txn(s, runs_body, &j, err);
}

const char *rs_store_path(const rs_store *s)
{
	return s->path;
}

/* ---- merging stores ----
 *
 * "merged": the id of a store folded in -> its last transaction id then, a
 * done flag, and the last key applied.  Each batch of the merge commits
 * with that progress, so a crash resumes after the last key applied, and
 * a store merged again unchanged applies nothing: the counts stay exact. */

typedef struct merge_mark {
	uint8_t src_id[16];
	uint64_t txnid;
	uint8_t done;
	uint8_t key[RS_KEY_MAX];
	size_t key_len;
} merge_mark;

static int put_mark(rs_store *s, MDB_txn *txn, void *ctx)
{
	const merge_mark *m = ctx;
	uint8_t buf[9 + RS_KEY_MAX];
	put_u64(buf, m->txnid);
	buf[8] = m->done;
	memcpy(buf + 9, m->key, m->key_len);
	MDB_val k = { 16, (void *)m->src_id }, v = { 9 + m->key_len, buf };
	return mdb_put(txn, s->merged, &k, &v, 0);
}

typedef struct merge_final {
	merge_mark *mark;
	rs_store *src;
	MDB_txn *src_txn;
} merge_final;

/* The last transaction: the mark, and the source store's sources. */
static int put_final(rs_store *s, MDB_txn *txn, void *ctx)
{
	merge_final *f = ctx;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = put_mark(s, txn, f->mark)))
		return rc;
	if ((rc = mdb_cursor_open(f->src_txn, f->src->sources, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rs_source in, have;
		MDB_val hv;
		if (decode_source(&in, &k, &v))
			continue;
		/* the same input in both stores: keep the furthest progress */
		if (mdb_get(txn, s->sources, &k, &hv) == 0 && decode_source(&have, &k, &hv) == 0 &&
		    have.bytes >= in.bytes)
			continue;
		if ((rc = put_source(txn, s->sources, &in)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int rs_store_merge(rs_store *s, const char *src_path, int force, size_t batch_keys,
                   rs_merge_counts *counts, rs_error *err)
{
	rs_store *src = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_envinfo info;
	MDB_val k, v;
	rs_batch *b = NULL;
	merge_mark mark;
	int rc;

	memset(counts, 0, sizeof *counts);
	if ((rc = rs_store_open(&src, src_path, RS_STORE_RDONLY, err)))
		return rc;
	if (memcmp(src->id, s->id, 16) == 0) {
		rc = rs_error_set(err, RS_EUSAGE, "'%s' is this store: nothing to merge", src_path);
		goto close_src;
	}
	/* one snapshot of the source for the whole merge */
	if ((rc = mdb_txn_begin(src->env, NULL, MDB_RDONLY, &txn))) {
		fail(err, src_path, rc, "cannot begin a read transaction");
		goto close_src;
	}
	mdb_env_info(src->env, &info);
	memset(&mark, 0, sizeof mark);
	memcpy(mark.src_id, src->id, 16);
	mark.txnid = info.me_last_txnid;

	/* what an earlier merge of this store did */
	MDB_txn *rt;
	int resume = 0;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &rt))) {
		fail(err, s->path, rc, "cannot begin a read transaction");
		goto abort;
	}
	MDB_val mk = { 16, mark.src_id }, mv;
	if (mdb_get(rt, s->merged, &mk, &mv) == 0 && mv.mv_size >= 9) {
		uint64_t then = get_u64(mv.mv_data);
		int done = ((const uint8_t *)mv.mv_data)[8];
		if (then == mark.txnid && done) {
			counts->already_merged = 1;
			mdb_txn_abort(rt);
			rc = 0;
			goto abort;
		}
		if (then == mark.txnid && mv.mv_size - 9 <= RS_KEY_MAX) {
			mark.key_len = mv.mv_size - 9;
			memcpy(mark.key, (const uint8_t *)mv.mv_data + 9, mark.key_len);
			resume = mark.key_len > 0;
		} else if (!force) {
			mdb_txn_abort(rt);
			rc = rs_error_set(err, RS_EUSAGE,
			                  "'%s' was merged before and has changed since; merging it again "
			                  "would count its earlier observations twice (--force does)",
			                  src_path);
			goto abort;
		}
	}
	mdb_txn_abort(rt);

	if ((rc = rs_batch_new(&b, batch_keys ? batch_keys : 16384, 4u << 20))) {
		rs_error_set(err, rc, "out of memory");
		goto abort;
	}
	if ((rc = mdb_cursor_open(txn, src->records, &cur))) {
		fail(err, src_path, rc, "cannot open a cursor");
		goto free_batch;
	}
	if (resume) {
		k.mv_size = mark.key_len;
		k.mv_data = mark.key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == mark.key_len && memcmp(k.mv_data, mark.key, k.mv_size) == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		counts->resumed = 1;
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		rs_record r;
		if (k.mv_size <= RS_UUID_LEN || k.mv_size > RS_KEY_MAX ||
		    rs_record_decode(&r, v.mv_data, v.mv_size)) {
			rc = rs_error_set(err, RS_ECORRUPT, "a record of '%s' is damaged", src_path);
			goto close_cursor;
		}
		if ((rc = rs_batch_add_record(b, k.mv_data, k.mv_size, &r))) {
			rs_error_set(err, rc, "out of memory");
			goto close_cursor;
		}
		counts->records++;
		counts->observations += r.n_obs;
		if (rs_batch_full(b)) {
			/* keys come in order: the batch ends at this key */
			memcpy(mark.key, k.mv_data, k.mv_size);
			mark.key_len = k.mv_size;
			if ((rc = apply_with(s, b, NULL, 0, put_mark, &mark, err)))
				goto close_cursor;
			rs_batch_clear(b);
		}
	}
	if (rc != MDB_NOTFOUND) {
		fail(err, src_path, rc, "cannot read the records");
		goto close_cursor;
	}
	mark.done = 1;
	mark.key_len = 0;
	merge_final fin = { &mark, src, txn };
	rc = apply_with(s, b, NULL, 0, put_final, &fin, err);
close_cursor:
	mdb_cursor_close(cur);
free_batch:
	rs_batch_free(b);
abort:
	mdb_txn_abort(txn);
close_src:
	rs_store_close(src);
	return rc;
}

/* ---- history: key = run number, big-endian, so that keys sort in order */

typedef struct history_entry {
	const char *text;
	size_t len;
} history_entry;

static int history_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const history_entry *h = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t key[8];
	uint64_t run = 1;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->history, &cur)))
		return fail(err, s->path, rc, "cannot record the run");
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == 0 && k.mv_size == 8) {
		run = 0;
		for (int i = 0; i < 8; i++)
			run = run << 8 | ((const uint8_t *)k.mv_data)[i];
		run++;
	} else if (rc != MDB_NOTFOUND && rc != 0) {
		return fail(err, s->path, rc, "cannot record the run");
	}
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(run >> (56 - 8 * i));
	k.mv_size = 8;
	k.mv_data = key;
	v.mv_size = h->len;
	v.mv_data = (void *)h->text;
	if ((rc = mdb_put(txn, s->history, &k, &v, 0)) && rc != MDB_MAP_FULL)
		fail(err, s->path, rc, "cannot record the run");
	return rc;
}

int rs_store_history_add(rs_store *s, const char *text, size_t len, rs_error *err)
{
	history_entry h = { text, len };
	return write_txn(s, history_body, &h, err);
}

int rs_store_history(rs_store *s,
                     int (*fn)(void *ctx, uint64_t run, const char *text, size_t len),
                     void *ctx, rs_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return fail(err, s->path, rc, "cannot begin a read transaction");
	if ((rc = mdb_cursor_open(txn, s->history, &cur))) {
		mdb_txn_abort(txn);
		return fail(err, s->path, rc, "cannot open a cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t run = 0;
		for (size_t i = 0; i < k.mv_size && i < 8; i++)
			run = run << 8 | ((const uint8_t *)k.mv_data)[i];
		if ((rc = fn(ctx, run, v.mv_data, v.mv_size)))
			break;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (rc < 0)
		fail(err, s->path, rc, "cannot read the history");
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/* ---- the catalog ----
 *
 * "catalog": code -> 16 id bytes + name; "catalog_ids": id -> code. */

static int catalog_body(rs_store *s, MDB_txn *txn, void *arg, rs_error *err)
{
	const rs_catalog *c = arg;
	uint8_t buf[RS_UUID_LEN + 4 * RS_NAME_MAX_CHARS];
	int rc;

	/* replace: empty both, then fill */
	if ((rc = mdb_drop(txn, s->catalog, 0)) || (rc = mdb_drop(txn, s->catalog_ids, 0)))
		goto failed;
	for (size_t i = 0; i < rs_catalog_size(c); i++) {
		const rs_catalog_entry *e = rs_catalog_entry_at(c, i);
		size_t name_len = e->name.n < sizeof buf - RS_UUID_LEN ? e->name.n : sizeof buf - RS_UUID_LEN;
		memcpy(buf, e->id, RS_UUID_LEN);
		memcpy(buf + RS_UUID_LEN, e->name.p, name_len);
		MDB_val k = { e->code.n, (void *)e->code.p }, v = { RS_UUID_LEN + name_len, buf };
		MDB_val ik = { RS_UUID_LEN, (void *)e->id }, iv = { e->code.n, (void *)e->code.p };
		if ((rc = mdb_put(txn, s->catalog, &k, &v, 0)) ||
		    (rc = mdb_put(txn, s->catalog_ids, &ik, &iv, 0)))
			goto failed;
	}
	return 0;
failed:
	if (rc != MDB_MAP_FULL)
		fail(err, s->path, rc, "cannot write the catalog");
	return rc;
}

int rs_store_catalog_put(rs_store *s, const rs_catalog *c, rs_error *err)
{
	return write_txn(s, catalog_body, (void *)c, err);
}

int rs_store_catalog_get(rs_store *s, rs_catalog **out, rs_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	rs_catalog *c;
	int rc;

	if ((rc = rs_catalog_new(&c)))
		return rs_error_set(err, rc, "out of memory");
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
		fail(err, s->path, rc, "cannot begin a read transaction");
		goto free_catalog;
	}
	if ((rc = mdb_cursor_open(txn, s->catalog, &cur))) {
		fail(err, s->path, rc, "cannot open a cursor");
		goto abort;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size < RS_UUID_LEN) {
			rc = rs_error_set(err, RS_ECORRUPT, "a catalog entry is damaged");
			goto close;
		}
		if (rs_catalog_add(c, v.mv_data, k.mv_data, k.mv_size,
		                   (const char *)v.mv_data + RS_UUID_LEN,
		                   v.mv_size - RS_UUID_LEN) == RS_ENOMEM) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto close;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		fail(err, s->path, rc, "cannot read the catalog");
close:
	mdb_cursor_close(cur);
abort:
	mdb_txn_abort(txn);
	if (rc == 0) {
		*out = c;
		return 0;
	}
free_catalog:
	rs_catalog_free(c);
	return rc;
}

/* ---- reading ---- */

int rs_cursor_open(rs_store *s, rs_cursor **out, rs_error *err)
{
	rs_cursor *c = calloc(1, sizeof *c);
	int rc;

	if (c == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	c->s = s;
	c->op = MDB_FIRST;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &c->txn))) {
		fail(err, s->path, rc, "cannot begin a read transaction");
		goto free_cursor;
	}
	if ((rc = mdb_cursor_open(c->txn, s->records, &c->cur))) {
		fail(err, s->path, rc, "cannot open a cursor");
		goto abort;
	}
	*out = c;
	return 0;
abort:
	mdb_txn_abort(c->txn);
free_cursor:
	free(c);
	return rc;
}

int rs_cursor_seek(rs_cursor *c, const uint8_t *key, size_t key_len,
                   rs_error *err)
{
	MDB_val k = { key_len, (void *)key }, v;
	int rc = mdb_cursor_get(c->cur, &k, &v, MDB_SET_RANGE);

	if (rc && rc != MDB_NOTFOUND)
		return fail(err, c->s->path, rc, "cannot position a cursor");
	/* the next call returns the found record, or nothing */
	c->op = rc ? (MDB_cursor_op)-1 : MDB_GET_CURRENT;
	return 0;
}

int rs_cursor_next(rs_cursor *c, const uint8_t **key, size_t *key_len,
                   rs_record *r, rs_error *err)
{
	MDB_val k, v;
	int rc;

	if (c->op == (MDB_cursor_op)-1)
		return 0;
	rc = mdb_cursor_get(c->cur, &k, &v, c->op);
	c->op = MDB_NEXT;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return fail(err, c->s->path, rc, "cannot read a record");
	if (k.mv_size <= RS_UUID_LEN ||
	    (rc = rs_record_decode(r, v.mv_data, v.mv_size))) {
		rc = rc ? rc : RS_ECORRUPT;
		rs_error_set(err, rc, "a stored record is damaged: %s", rs_strerror(rc));
		rs_error_locate(err, c->s->path, 0, 0);
		return rc;
	}
	*key = k.mv_data;
	*key_len = k.mv_size;
	return 1;
}

uint64_t rs_cursor_snapshot(const rs_cursor *c)
{
	return (uint64_t)mdb_txn_id(c->txn);
}

void rs_cursor_close(rs_cursor *c)
{
	if (c == NULL)
		return;
	mdb_cursor_close(c->cur);
	mdb_txn_abort(c->txn);
	free(c);
}

/* ---- statistics ---- */

/* A set of codes, to count the distinct ones. */
typedef struct code_set {
	rs_str *slot;
	size_t n, cap;
} code_set;


static int code_set_add(code_set *cs, const char *p, size_t n)
{
	if (2 * (cs->n + 1) > cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 256;
		rs_str *slot = calloc(cap, sizeof *slot);
		if (slot == NULL)
			return RS_ENOMEM;
		for (size_t i = 0; i < cs->cap; i++) {
			if (cs->slot[i].n == 0)
				continue;
			size_t j = rs_hash64(cs->slot[i].p, cs->slot[i].n, 0) & (cap - 1);
			while (slot[j].n)
				j = (j + 1) & (cap - 1);
			slot[j] = cs->slot[i];
		}
		free(cs->slot);
		cs->slot = slot;
		cs->cap = cap;
	}
	size_t j = rs_hash64(p, n, 0) & (cs->cap - 1);
	for (; cs->slot[j].n; j = (j + 1) & (cs->cap - 1))
		if (cs->slot[j].n == n && memcmp(cs->slot[j].p, p, n) == 0)
			return 0;
	char *copy = malloc(n);
	if (copy == NULL)
		return RS_ENOMEM;
	memcpy(copy, p, n);
	cs->slot[j].p = copy;
	cs->slot[j].n = (uint32_t)n;
	cs->n++;
	return 0;
}

static void code_set_free(code_set *cs)
{
	for (size_t i = 0; i < cs->cap; i++)
		free((void *)cs->slot[i].p);
	free(cs->slot);
}

static int count_source(void *ctx, const rs_source *src)
{
	rs_store_stats *st = ctx;
	st->sources++;
	st->rejected += src->rejected;
	return 0;
}

int rs_store_stats_get(rs_store *s, rs_store_stats *st, rs_error *err)
{
	rs_cursor *c;
	const uint8_t *key, *last_user = NULL;
	uint8_t prev_user[RS_UUID_LEN];
	size_t key_len;
	rs_record r;
	code_set codes = { 0 };
	MDB_envinfo info;
	char data[RS_ERROR_SOURCE_LEN + 16];
	struct stat fst;
	int rc;

	memset(st, 0, sizeof *st);
	if ((rc = rs_cursor_open(s, &c, err)))
		return rc;
	while ((rc = rs_cursor_next(c, &key, &key_len, &r, err)) == 1) {
		st->records++;
		if (last_user == NULL || memcmp(prev_user, key, RS_UUID_LEN) != 0) {
			st->users++;
			memcpy(prev_user, key, RS_UUID_LEN);
			last_user = prev_user;
		}
		st->observations += r.n_obs;
		st->dump_rows += r.n_dump;
		st->multi_id += r.multi_cid;
		if (code_set_add(&codes, (const char *)key + RS_UUID_LEN, key_len - RS_UUID_LEN)) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			break;
		}
	}
	st->codes = codes.n;
	code_set_free(&codes);
	rs_cursor_close(c);
	if (rc != 0)
		return rc;
	if ((rc = rs_store_sources(s, count_source, st, err)))
		return rc;
	mdb_env_info(s->env, &info);
	st->map_size = info.me_mapsize;
	snprintf(data, sizeof data, "%s/data.mdb", s->path);
	if (stat(data, &fst) == 0)
		st->file_size = (uint64_t)fst.st_size;
	return 0;
}
