/* Sorted runs (see include/rewardstore/runs.h).
 *
 * The file holds the runs back to back, each as rs_batch_pack wrote it;
 * runs[] says where each starts, where its keys from RS_RUNS_SPLIT begin,
 * and where it ends.  A reader maps the file and merges the runs (or one
 * part of each) by the k-way merge of kway.c.  A follower
 * reads one run while another thread appends it, with pread, as far as it
 * is told the file is written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rewardstore/record.h>
#include <rewardstore/runs.h>

#include "kway-private.h"

#define APPEND_BUF (1u << 20)
#define WRITE_PIECE ((size_t)1 << 20)

typedef struct run {
	uint64_t start, mid, end;  /* mid: the first key >= RS_RUNS_SPLIT */
} run;

struct rs_runs {
	int fd;
	char dir[RS_ERROR_SOURCE_LEN];
	run *runs;
	size_t n, cap;
	uint64_t bytes;
	/* rs_runs_append's run, buffered */
	uint8_t *abuf;
	size_t aused, acap;
	int appending;
	uint64_t amid;
};

/* a run being read: where its next entry is, and where it ends */
typedef struct span {
	size_t pos, end;     /* in the map */
} span;

struct rs_runs_reader {
	uint8_t *map;
	size_t map_len;
	span *spans;
	rs_kway merge;       /* the runs' current entries (kway-private.h) */
};

static int fail_io(rs_error *err, const char *dir, int e, const char *what)
{
	/* a full disk is worded as the other full-disk messages are */
	if (e == ENOSPC)
		rs_error_set(err, e, "%s in '%s': no space left on device (the store is as it "
		             "was at its last commit)", what, dir);
	else
		rs_error_set(err, e, "%s in '%s': %s", what, dir, strerror(e));
	rs_error_locate(err, dir, 0, 0);
	return e;
}

int rs_runs_new(rs_runs **out, const char *dir, rs_error *err)
{
	rs_runs *r = calloc(1, sizeof *r);
	int e;

	*out = NULL;
	if (r == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	snprintf(r->dir, sizeof r->dir, "%s", dir);
#ifdef O_TMPFILE
	r->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#else
	r->fd = -1;
#endif
	if (r->fd < 0) {
		/* no O_TMPFILE here: a named file, unlinked at once */
		char path[RS_ERROR_SOURCE_LEN + 32];
		snprintf(path, sizeof path, "%s/runs.XXXXXX", dir);
		if ((r->fd = mkstemp(path)) < 0) {
			e = errno;
			free(r);
			return fail_io(err, dir, e, "cannot make a file for sorted runs");
		}
		unlink(path);
	}
	*out = r;
	return 0;
}

void rs_runs_free(rs_runs *r)
{
	if (r == NULL)
		return;
	close(r->fd);
	free(r->runs);
	free(r->abuf);
	free(r);
}

static int write_at(rs_runs *r, const uint8_t *p, size_t len, uint64_t at, rs_error *err)
{
	size_t done = 0;

	while (done < len) {
		/* in pieces of 1 MiB: a buffered write holds the file's lock for
		 * as long as it copies, and two parsers spilling at once would
		 * otherwise wait for each other's whole run */
		size_t piece = len - done < WRITE_PIECE ? len - done : WRITE_PIECE;
		ssize_t w = pwrite(r->fd, p + done, piece, (off_t)(at + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail_io(err, r->dir, w < 0 ? errno : EIO, "cannot write sorted runs");
		done += (size_t)w;
	}
	return 0;
}

static int add_run(rs_runs *r, uint64_t start, uint64_t mid, uint64_t end, rs_error *err)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		run *nr = realloc(r->runs, cap * sizeof *nr);
		if (nr == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->runs = nr;
		r->cap = cap;
	}
	r->runs[r->n].start = start;
	r->runs[r->n].mid = mid;
	r->runs[r->n].end = end;
	r->n++;
	return 0;
}

int rs_runs_add(rs_runs *r, rs_batch *b, rs_error *err)
{
	const uint8_t *p, *key, *val;
	size_t len, key_len, val_len, pos = 0, mid;
	int rc;

	if ((rc = rs_batch_pack(b)))
		return rs_error_set(err, rc, "out of memory");
	rs_batch_packed(b, &p, &len);
	if (len == 0)
		return 0;
	/* where the second half of the key space begins: the entries' headers
	 * are walked, not their values */
	mid = len;
	for (size_t at = 0; (pos = at, rs_packed_next(p, len, &pos, &key, &key_len, &val,
	                                               &val_len)) == 1; at = pos)
		if (key[0] >= RS_RUNS_SPLIT) {
			mid = at;
			break;
		}
	if ((rc = write_at(r, p, len, r->bytes, err)) ||
	    (rc = add_run(r, r->bytes, r->bytes + mid, r->bytes + len, err)))
		return rc;
	r->bytes += len;
	return 0;
}

/* Write the appended entries buffered so far. */
static int append_flush(rs_runs *r, rs_error *err)
{
	int rc = write_at(r, r->abuf, r->aused, r->bytes, err);
	if (rc == 0) {
		r->bytes += r->aused;
		r->aused = 0;
	}
	return rc;
}

int rs_runs_append(rs_runs *r, const uint8_t *key, size_t key_len, const uint8_t *val,
                   size_t val_len, rs_error *err)
{
	size_t need = 6 + key_len + val_len;
	int rc;

	if (!r->appending) {
		r->appending = 1;
		r->aused = 0;
		r->amid = UINT64_MAX;
		/* the run starts at r->bytes; r->bytes moves on as it is written */
		if ((rc = add_run(r, r->bytes, r->bytes, r->bytes, err)))
			return rc;
	}
	run *cur = &r->runs[r->n - 1];
	if (r->amid == UINT64_MAX && key[0] >= RS_RUNS_SPLIT)
		r->amid = r->bytes + r->aused;
	if (need > r->acap - r->aused && (rc = append_flush(r, err)))
		return rc;
	if (need > r->acap) {
		/* the first entry, or one larger than the buffer */
		size_t cap = need > APPEND_BUF ? need : APPEND_BUF;
		uint8_t *nb = realloc(r->abuf, cap);
		if (nb == NULL)
			return rs_error_set(err, RS_ENOMEM, "out of memory");
		r->abuf = nb;
		r->acap = cap;
	}
	r->aused += rs_packed_put(r->abuf + r->aused, key, key_len, val, val_len);
	cur->end = r->bytes + r->aused;
	cur->mid = r->amid == UINT64_MAX ? cur->end : r->amid;
	return 0;
}

int rs_runs_append_end(rs_runs *r, rs_error *err)
{
	if (!r->appending)
		return 0;
	r->appending = 0;
	return append_flush(r, err);
}

size_t rs_runs_count(const rs_runs *r)
{
	return r->n;
}

uint64_t rs_runs_bytes(const rs_runs *r)
{
	return r->bytes;
}

/* The merge's reading of run i (rs_kway_next_fn). */
static int run_next(void *ctx, size_t i, const uint8_t **key, size_t *key_len,
                    const uint8_t **val, size_t *val_len)
{
	rs_runs_reader *rd = ctx;
	span *sp = &rd->spans[i];
	int rc = rs_packed_next(rd->map, sp->end, &sp->pos, key, key_len, val, val_len);
	/* this run's next entry is read when its turn comes, after one entry
	 * of most other runs: with hundreds of runs that is too many streams
	 * for the processor to see coming, so ask for its first lines now
	 * (a few hundred KiB in all, which the caches hold) */
	if (rc == 1 && sp->pos < sp->end) {
		const uint8_t *next = rd->map + sp->pos;
		__builtin_prefetch(next);
		__builtin_prefetch(next + 64);
		__builtin_prefetch(next + 128);
		__builtin_prefetch(next + 192);
	}
	return rc;
}

int rs_runs_reader_open(rs_runs *r, rs_runs_part part, rs_runs_reader **out, rs_error *err)
{
	rs_runs_reader *rd = calloc(1, sizeof *rd);
	size_t k = r->n && r->bytes ? r->n : 0;
	int rc = 0;

	*out = NULL;
	if (rd == NULL)
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	if (k) {
		rd->map_len = (size_t)r->bytes;
		/* populated: one call instead of a fault per page */
		rd->map = mmap(NULL, rd->map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, r->fd, 0);
		if (rd->map == MAP_FAILED) {
			rd->map = NULL;
			rc = fail_io(err, r->dir, errno, "cannot map sorted runs");
			goto done;
		}
		if ((rd->spans = calloc(k, sizeof *rd->spans)) == NULL) {
			rc = rs_error_set(err, RS_ENOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < k; i++) {
			rd->spans[i].pos = (size_t)(part == RS_RUNS_HIGH ? r->runs[i].mid : r->runs[i].start);
			rd->spans[i].end = (size_t)(part == RS_RUNS_LOW ? r->runs[i].mid : r->runs[i].end);
		}
	}
	if (rs_kway_open(&rd->merge, k, run_next, rd))
		rc = rs_error_set(err, RS_ENOMEM, "out of memory");
done:
	if (rc) {
		rs_runs_reader_close(rd);
		return rc;
	}
	*out = rd;
	return 0;
}

int rs_runs_reader_next(rs_runs_reader *rd, const uint8_t **key, size_t *key_len,
                        const uint8_t **val, size_t *val_len)
{
	return rs_kway_next(&rd->merge, key, key_len, val, val_len, NULL);
}

void rs_runs_reader_close(rs_runs_reader *rd)
{
	if (rd == NULL)
		return;
	rs_kway_close(&rd->merge);
	if (rd->map)
		munmap(rd->map, rd->map_len);
	free(rd->spans);
	free(rd);
}

int rs_runs_clear(rs_runs *r, rs_error *err)
{
	r->n = 0;
	r->bytes = 0;
	r->appending = 0;
	r->aused = 0;
	if (ftruncate(r->fd, 0) != 0)
		return fail_io(err, r->dir, errno, "cannot empty the sorted runs");
	return 0;
}

/* ---- following a run as it is appended ---- */

struct rs_runs_follower {
	int fd;
	const char *dir;
	uint8_t *buf;
	size_t cap, have, pos;  /* buf[pos..have) read and not handed out */
	uint64_t at;            /* the file offset of buf[have] */
};

int rs_runs_follower_open(const rs_runs *r, rs_runs_follower **out, rs_error *err)
{
	rs_runs_follower *f = calloc(1, sizeof *f);
	if (f == NULL || (f->buf = malloc(APPEND_BUF)) == NULL) {
		free(f);
		return rs_error_set(err, RS_ENOMEM, "out of memory");
	}
	f->fd = r->fd;
	f->dir = r->dir;
	f->cap = APPEND_BUF;
	f->at = r->bytes;       /* appending starts at the end */
	*out = f;
	return 0;
}

int rs_runs_follower_next(rs_runs_follower *f, uint64_t written, const uint8_t **key,
                          size_t *key_len, const uint8_t **val, size_t *val_len,
                          rs_error *err)
{
	for (;;) {
		size_t pos = f->pos;
		/* a whole entry in the buffer: hand it out */
		if (rs_packed_next(f->buf, f->have, &pos, key, key_len, val, val_len) == 1) {
			f->pos = pos;
			return 1;
		}
		if (f->at >= written)
			return 0;
		/* keep the part of an entry, make room, read on */
		size_t left = f->have - f->pos;
		memmove(f->buf, f->buf + f->pos, left);
		f->have = left;
		f->pos = 0;
		if (left == f->cap)
			return RS_ECORRUPT; /* an entry longer than 1 MiB: a record is a few KiB */
		size_t want = f->cap - f->have;
		if (want > written - f->at)
			want = (size_t)(written - f->at);
		ssize_t got;
		do
			got = pread(f->fd, f->buf + f->have, want, (off_t)f->at);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return fail_io(err, f->dir, got < 0 ? errno : EIO, "cannot read a sorted run back");
		f->have += (size_t)got;
		f->at += (uint64_t)got;
	}
}

int rs_runs_follower_partial(const rs_runs_follower *f)
{
	return f->have > f->pos;
}

void rs_runs_follower_close(rs_runs_follower *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	free(f);
}
