/* The store's environment: an LMDB directory opened, checked (is it a
 * store, of a format this build reads, undamaged) and closed, and the one
 * way to run a write transaction.  What goes in the named databases is
 * the other files' (store-private.h lists them); include/rewardstore/store.h
 * says what the databases are, doc/DESIGN.md what durability they give.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>
#include <uuid/uuid.h>

#include <rewardstore/store.h>

#include "bytes.h"
#include "store-private.h"

#define META_FORMAT "format"

int rs_store_set_mapsize(rs_store *s, uint64_t size)
{
	pthread_mutex_lock(&s->map_mu);
	int rc = mdb_env_set_mapsize(s->env, size);
	pthread_mutex_unlock(&s->map_mu);
	return rc;
}

int rs_store_fail(rs_error *err, const char *path, int rc, const char *what)
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

/* The history's last run number (0 when it has none): the key of the
 * history database's last entry, big-endian (history.c writes them). */
int rs_store_last_run(rs_store *s, MDB_txn *txn, uint64_t *last)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*last = 0;
	if ((rc = mdb_cursor_open(txn, s->history, &cur)))
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == 0 && k.mv_size == 8)
		*last = rs_get_be64(k.mv_data);
	return rc == MDB_NOTFOUND ? 0 : rc;
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
		return rs_store_fail(err, s->path, rc, "cannot begin a transaction");
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
	rc = mdb_dbi_open(txn, "catalog_marks", create, &s->catalog_marks);
	if (rc == 0)
		s->has_catalog_marks = 1;
	else if (rc != MDB_NOTFOUND)
		goto fail;
	/* the run this writer will record: each change it makes is marked so */
	if ((rc = rs_store_last_run(s, txn, &s->last_run)))
		goto fail;
	s->run = s->last_run + 1;
	MDB_val mfk = { 10, (void *)"marks_from" }, mfv;
	rc = mdb_get(txn, s->meta, &mfk, &mfv);
	if (rc == 0 && mfv.mv_size == 8) {
		s->marks_from = rs_get_u64(mfv.mv_data);
	} else if (rc == MDB_NOTFOUND && !rdonly) {
		/* a new store, or one of format 1: marked from this run on */
		uint8_t b[8];
		rs_put_u64(b, s->run);
		mfv.mv_size = 8;
		mfv.mv_data = b;
		if ((rc = mdb_put(txn, s->meta, &mfk, &mfv, 0)))
			goto fail;
		s->marks_from = s->run;
		uint32_t fmt = RS_STORE_FORMAT;
		MDB_val fv = { sizeof fmt, &fmt };
		if ((rc = mdb_put(txn, s->meta, &k, &fv, 0)))
			goto fail;
	} else if (rc && rc != MDB_NOTFOUND) {
		goto fail;
	}
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
		return rs_store_fail(err, s->path, rc, "cannot commit");
	return 0;
fail:
	rs_store_fail(err, s->path, rc, "cannot open the store's databases");
abort:
	mdb_txn_abort(txn);
	return rc;
}

/* The bytes of data.mdb that the last commit's pages take; 0 when LMDB
 * cannot say. */
uint64_t rs_store_used_bytes(MDB_env *env)
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
	uint64_t used = rs_store_used_bytes(env);
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
		return rs_store_fail(err, path, rc, "cannot create an LMDB environment");
	if ((rc = mdb_env_set_maxdbs(env, 16)) ||
	    (rc = mdb_env_set_mapsize(env, map_size ? map_size : RS_DEFAULT_MAP_SIZE))) {
		rs_store_fail(err, path, rc, "cannot configure LMDB");
		goto close_env;
	}
	if ((rc = mdb_env_open(env, path, mflags, 0666))) {
		if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
			rs_error_set(err, RS_ENOSTORE, "'%s' is not a store: %s", path, mdb_strerror(rc));
			rs_error_locate(err, path, 0, 0);
			rc = RS_ENOSTORE;
		} else {
			rs_store_fail(err, path, rc, "cannot open the store");
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
			rc = rs_store_fail(err, path, errno, "cannot open the store directory");
			goto free_store;
		}
		while (flock(s->lock_fd, LOCK_EX) != 0) {
			if (errno != EINTR) {
				rc = rs_store_fail(err, path, errno, "cannot lock the store for writing");
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
	off_t used = (off_t)rs_store_used_bytes(s->env);
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
	return rs_store_fail(err, s->path, rc, "cannot commit (the store is as it was at its last commit)");
}

/* See store-private.h. */

int rs_store_write(rs_store *s, rs_txn_body body, void *ctx, rs_error *err)
{
	for (;;) {
		MDB_txn *txn;
		MDB_envinfo info;
		int rc;

		if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) == MDB_MAP_RESIZED) {
			/* another process grew the map: take its size */
			if ((rc = rs_store_set_mapsize(s, 0)))
				return rs_store_fail(err, s->path, rc, "cannot grow the map");
			continue;
		}
		if (rc)
			return rs_store_fail(err, s->path, rc, "cannot begin a write transaction");
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
		if ((rc = rs_store_set_mapsize(s, info.me_mapsize * 2)))
			return rs_store_fail(err, s->path, rc, "cannot grow the map");
	}
}

const char *rs_store_path(const rs_store *s)
{
	return s->path;
}
